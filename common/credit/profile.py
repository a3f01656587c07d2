"""What we know about the embedded `credit-data` table beyond what inference finds.

Plain-language labels for the form and the reason texts, business ranges
for validation (wider than the training data, narrower than "any number"),
the derived characteristics the scorecard uses, and the risk direction each
numeric characteristic must keep.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from common.credit.features import DerivedFeature, FeatureSpec, Signature, columns_infer

DATASET = "credit-data"
TARGET = "Status"
BAD_VALUE = "bad"

LABELS = {
    "Seniority": ("Years with current employer", "Job seniority in years."),
    "Home": ("Housing", "Type of home ownership."),
    "Time": ("Loan term (months)", "Requested repayment period in months."),
    "Age": ("Age", "Applicant's age in years."),
    "Marital": ("Marital status", ""),
    "Records": ("Previous default records", "Whether the applicant has records of past arrears."),
    "Job": ("Type of employment", ""),
    "Expenses": ("Monthly expenses", "Regular monthly expenses."),
    "Income": ("Monthly income", "Net monthly income; leave blank if not declared."),
    "Assets": ("Assets", "Value of the applicant's assets; blank if not declared."),
    "Debt": ("Existing debt", "Amount of outstanding debt; blank if not declared."),
    "Amount": ("Loan amount", "Amount of the loan requested."),
    "Price": ("Price of goods", "Price of the goods the loan pays for."),
}

# Allowed input ranges (what an application may plausibly contain), not the training range.
RANGES = {
    "Seniority": (0, 60), "Time": (1, 120), "Age": (18, 100), "Expenses": (0, 2000),
    "Income": (0, 10000), "Assets": (0, 1_000_000), "Debt": (0, 1_000_000),
    "Amount": (1, 100_000), "Price": (1, 1_000_000),
}

DERIVED = (
    DerivedFeature(name="loan_to_price", kind="ratio", inputs=("Amount", "Price"), label="Loan-to-price ratio"),
    DerivedFeature(name="installment_to_income", kind="ratio", inputs=("Amount", "Time", "Income"),
                   label="Monthly instalment to income"),
    DerivedFeature(name="income_after_expenses", kind="difference", inputs=("Income", "Expenses"),
                   label="Income left after expenses"),
)

# +1: risk rises with the value; -1: risk falls.  Others are read from the data.
DIRECTIONS = {
    "Income": -1, "Seniority": -1, "Assets": -1, "Debt": 1, "Amount": 1, "Expenses": 1,
    "loan_to_price": 1, "installment_to_income": 1, "income_after_expenses": -1,
}


def credit_data_signature(frame: pd.DataFrame) -> Signature:
    """The inferred signature of credit-data with the labels, ranges and derived characteristics above."""
    inferred = columns_infer(frame, target=TARGET).signature
    features: list[FeatureSpec] = []
    for spec in inferred.features:
        label, description = LABELS.get(spec.name, ("", ""))
        minimum, maximum = RANGES.get(spec.name, (spec.minimum, spec.maximum))
        features.append(dataclasses.replace(spec, label=label, description=description,
                                            minimum=minimum if spec.is_numeric else None,
                                            maximum=maximum if spec.is_numeric else None))
    return Signature(features=tuple(features), derived=DERIVED)
