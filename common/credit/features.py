"""What a credit model takes as input: the signature, derived characteristics, and type inference.

The signature is stored in the model's metadata and drives everything that
faces a user: the API schema and its validation, the application form, the
CSV columns of a batch.  A model trained on another dataset is therefore
served with no code change.  Derived characteristics (ratios, differences) are
computed from the inputs inside the model, in the same way on the pipeline and
on the compiled single-applicant path.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

FeatureKind = Literal["integer", "number", "category"]

MAX_CATEGORIES = 50
IDENTIFIER_NAME = re.compile(r"(^|[_\s-])(id|ids|uuid|guid|key|index|rownames?|customer|account|ssn)($|[_\s-])|^unnamed", re.I)


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """One input field: its type, whether it may be missing, and what values are allowed."""

    name: str
    kind: FeatureKind
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] = ()
    label: str = ""
    description: str = ""
    example: Any = None

    @property
    def title(self) -> str:
        return self.label or self.name

    @property
    def is_numeric(self) -> bool:
        return self.kind != "category"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "nullable": self.nullable, "minimum": self.minimum,
            "maximum": self.maximum, "categories": list(self.categories), "label": self.label,
            "description": self.description, "example": self.example,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        return cls(
            name=data["name"], kind=data["kind"], nullable=bool(data.get("nullable")),
            minimum=data.get("minimum"), maximum=data.get("maximum"),
            categories=tuple(data.get("categories") or ()), label=data.get("label") or "",
            description=data.get("description") or "", example=data.get("example"),
        )


@dataclasses.dataclass(frozen=True)
class DerivedFeature:
    """A characteristic computed from inputs: product(numerator) / product(denominator), or left - right.

    A ratio is missing when any part is missing or the denominator is not positive;
    a difference is missing when either side is missing.
    """

    name: str
    kind: Literal["ratio", "difference"]
    inputs: tuple[str, ...]  # ratio: numerator then denominator columns; difference: (left, right)
    numerator_count: int = 1
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "inputs": list(self.inputs),
                "numerator_count": self.numerator_count, "label": self.label}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DerivedFeature:
        return cls(name=data["name"], kind=data["kind"], inputs=tuple(data["inputs"]),
                   numerator_count=int(data.get("numerator_count", 1)), label=data.get("label") or "")

    def value(self, values: Sequence[float]) -> float:
        """The characteristic for one applicant (`values` in the order of `inputs`; NaN = missing)."""
        for v in values:
            if v != v:  # NaN
                return math.nan
        if self.kind == "difference":
            return values[0] - values[1]
        numerator = 1.0
        for v in values[: self.numerator_count]:
            numerator *= v
        denominator = 1.0
        for v in values[self.numerator_count :]:
            denominator *= v
        if denominator <= 0:
            return math.nan
        return numerator / denominator

    def values(self, columns: Sequence[np.ndarray]) -> np.ndarray:
        """The characteristic for many applicants, computed exactly like `value`."""
        if self.kind == "difference":
            return columns[0] - columns[1]
        numerator = np.ones_like(columns[0], dtype=float)
        for column in columns[: self.numerator_count]:
            numerator = numerator * column
        denominator = np.ones_like(columns[0], dtype=float)
        for column in columns[self.numerator_count :]:
            denominator = denominator * column
        with np.errstate(divide="ignore", invalid="ignore"):
            result = numerator / denominator
        result[~(denominator > 0)] = np.nan
        return result


@dataclasses.dataclass(frozen=True)
class Signature:
    """The inputs a model accepts, in order, plus the characteristics derived from them."""

    features: tuple[FeatureSpec, ...]
    derived: tuple[DerivedFeature, ...] = ()

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def feature(self, name: str) -> FeatureSpec:
        for spec in self.features:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"features": [f.to_dict() for f in self.features], "derived": [d.to_dict() for d in self.derived]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        return cls(
            features=tuple(FeatureSpec.from_dict(f) for f in data["features"]),
            derived=tuple(DerivedFeature.from_dict(d) for d in data.get("derived") or ()),
        )

    def example(self) -> dict[str, Any]:
        return {f.name: f.example for f in self.features}


def category_codes(values: pd.Series, categories: Sequence[str]) -> np.ndarray:
    """Position of each value in `categories`; -1 for a missing or unknown value (int64)."""
    return pd.Index(list(categories), dtype=object).get_indexer(pd.Index(values.to_numpy(dtype=object))).astype(np.int64)


def frame_with_derived(frame: pd.DataFrame, derived: Sequence[DerivedFeature]) -> pd.DataFrame:
    """The input columns plus every derived characteristic (numeric columns as float)."""
    result = frame.copy()
    for item in derived:
        columns = [pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float) for name in item.inputs]
        result[item.name] = item.values(columns)
    return result


# --------------------------------------------------------------------------- inference for any CSV
@dataclasses.dataclass(frozen=True)
class InferredColumns:
    signature: Signature
    dropped: dict[str, str]  # column -> why it is not an input


def _nice_bound(value: float, *, up: bool) -> float:
    if value == 0:
        return 0.0
    magnitude = 10 ** math.floor(math.log10(abs(value)))
    step = magnitude / 2
    return float((math.ceil if up else math.floor)(value / step) * step)


def _numeric_range(values: pd.Series) -> tuple[float, float]:
    """Allowed range of a numeric input: the training range widened by its span (never below 0 if it never was)."""
    low, high = float(values.min()), float(values.max())
    span = max(high - low, abs(high), 1.0)
    minimum = 0.0 if low >= 0 else _nice_bound(low - span, up=False)
    maximum = _nice_bound(high + span, up=True)
    return _plain(minimum), _plain(maximum)


def _plain(value: float) -> float:
    """Integral bounds as int, so messages read "greater than or equal to 0", not "0.0"."""
    return int(value) if float(value).is_integer() else value


def _is_integer(values: pd.Series) -> bool:
    present = values.dropna()
    return bool(len(present)) and bool(np.all(np.equal(np.mod(present.to_numpy(dtype=float), 1), 0)))


def columns_infer(frame: pd.DataFrame, *, target: str) -> InferredColumns:
    """Infer the input signature of a credit table: types, missing values, ranges, categories.

    Identifier-like columns (named like an id, or unique on every row), constant
    columns, dates, free text and very high-cardinality categories are not
    inputs; each one dropped is reported with the reason.
    """
    features: list[FeatureSpec] = []
    dropped: dict[str, str] = {}
    rows = len(frame)
    for name in frame.columns:
        if name == target:
            continue
        column = frame[name]
        present = column.dropna()
        unique = present.nunique()
        if present.empty:
            dropped[name] = "every value is missing"
            continue
        if unique <= 1:
            dropped[name] = "the same value on every row"
            continue
        if IDENTIFIER_NAME.search(str(name)) and (unique > 0.5 * rows or not pd.api.types.is_numeric_dtype(column)):
            dropped[name] = "looks like an identifier (name and many distinct values)"
            continue
        if pd.api.types.is_bool_dtype(column):
            column = column.map({True: "yes", False: "no"})
            present = column.dropna()
        if pd.api.types.is_numeric_dtype(column):
            values = pd.to_numeric(present)
            if unique == len(present) and unique > 0.95 * rows and _is_integer(values):
                diffs = np.diff(values.to_numpy())
                if len(diffs) and (np.all(diffs > 0) or np.all(diffs < 0) or unique == rows):
                    dropped[name] = "looks like an identifier (a distinct integer on every row)"
                    continue
            minimum, maximum = _numeric_range(values)
            # integer only when the column is stored as integers: amounts with decimals stay numbers
            integer = pd.api.types.is_integer_dtype(column)
            features.append(
                FeatureSpec(
                    name=str(name), kind="integer" if integer else "number", nullable=bool(column.isna().any()),
                    minimum=minimum, maximum=maximum,
                    example=int(values.median()) if integer else round(float(values.median()), 4),
                )
            )
            continue
        text = present.astype(str).str.strip()
        if pd.to_datetime(text.head(200), errors="coerce", format="mixed").notna().mean() > 0.9 and \
                text.head(200).str.contains(r"\d{2,4}[-/.]\d{1,2}", regex=True).mean() > 0.9:
            dropped[name] = "looks like a date (derive numeric characteristics from it first)"
            continue
        numeric = pd.to_numeric(text, errors="coerce")
        if numeric.notna().mean() > 0.98:
            minimum, maximum = _numeric_range(numeric.dropna())
            features.append(FeatureSpec(name=str(name), kind="number",
                                        nullable=bool(column.isna().any() or numeric.isna().any()),
                                        minimum=minimum, maximum=maximum, example=round(float(numeric.median()), 4)))
            continue
        if text.nunique() > 0.5 * rows:
            dropped[name] = "looks like an identifier or free text (a distinct value on most rows)"
            continue
        if text.nunique() > MAX_CATEGORIES:
            dropped[name] = f"more than {MAX_CATEGORIES} categories ({text.nunique()})"
            continue
        categories = tuple(sorted(text.unique()))
        features.append(
            FeatureSpec(name=str(name), kind="category", nullable=bool(column.isna().any()),
                        categories=categories, example=str(text.mode().iloc[0]))
        )
    if not features:
        raise ValueError("no usable input column: every column was dropped (" +
                         "; ".join(f"{k}: {v}" for k, v in dropped.items()) + ")")
    return InferredColumns(signature=Signature(features=tuple(features)), dropped=dropped)


def frame_conform(frame: pd.DataFrame, *, signature: Signature) -> pd.DataFrame:
    """The signature's columns of `frame` with canonical types: float for numbers, str or NaN for categories."""
    result = {}
    for spec in signature.features:
        column = frame[spec.name]
        if spec.is_numeric:
            result[spec.name] = pd.to_numeric(column, errors="coerce").astype(float)
        else:
            if pd.api.types.is_bool_dtype(column):
                column = column.map({True: "yes", False: "no"})
            present = column.notna()
            text = column.astype(str).str.strip()
            result[spec.name] = text.where(present, np.nan).astype(object)
    return pd.DataFrame(result, index=frame.index)
