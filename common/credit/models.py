"""The two credit models as scikit-learn pipelines.

Champion: a calibrated scorecard, `WoEBinner -> SignedLogisticRegression`
wrapped in a sigmoid `CalibratedClassifierCV` (fitted once on all rows, the
calibration map learned on cross-validated scores).  Every step is linear in
the WoE values, so the model is a points table.

Challenger: `HistGradientBoostingClassifier` on the same inputs and derived
characteristics, with native categorical support.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from common.credit.binning import WoEBinner
from common.credit.features import Signature, category_codes, frame_conform, frame_with_derived

CHALLENGER_PARAMS: dict[str, Any] = {
    # A small-tree, slow-learning configuration chosen by repeated CV on credit-data
    # (benchmarks/credit_quality.py prints the comparison with scikit-learn's defaults).
    "learning_rate": 0.03,
    "max_iter": 400,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 50,
    "l2_regularization": 1.0,
    "early_stopping": False,
}


class SignedLogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression on WoE columns whose coefficients all have the scorecard's sign.

    With WoE = ln(share of goods / share of bads), a characteristic can only lower
    the bad odds as its WoE rises, so every coefficient on the log bad odds must be
    <= 0.  A characteristic that comes out with the wrong sign (collinearity) is
    dropped and the rest refitted, as scorecard builders do; `dropped_` lists them.
    """

    def __init__(self, *, C: float = 1.0, max_iter: int = 1000) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: Any) -> SignedLogisticRegression:
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.n_features_in_ = X.shape[1]
        active = list(range(X.shape[1]))
        dropped: list[int] = []
        while True:
            model = LogisticRegression(C=self.C, max_iter=self.max_iter, solver="newton-cholesky")
            model.fit(X[:, active], y)
            coefficients = model.coef_[0]
            if not active or coefficients.max() <= 0:
                break
            worst = active[int(np.argmax(coefficients))]
            dropped.append(worst)
            active.remove(worst)
            if not active:
                model = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(np.zeros((X.shape[0], 1)), y)
                coefficients = np.zeros(0)
                break
        full = np.zeros(X.shape[1])
        full[active] = coefficients[: len(active)]
        self.coef_ = full.reshape(1, -1)
        self.intercept_ = np.array([float(model.intercept_[0])])
        self.dropped_ = sorted(dropped)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=float) @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        bad = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - bad, bad])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def scorecard_pipeline(
    *, signature: Signature, directions: Mapping[str, int] | None = None, seed: int = 42,
    max_bins: int = 6, min_share: float = 0.05, C: float = 1.0, calibration_folds: int = 5,
) -> CalibratedClassifierCV:
    core = Pipeline(
        [
            ("binning", WoEBinner(signature=signature.to_dict(), directions=dict(directions or {}),
                                  max_bins=max_bins, min_share=min_share)),
            ("regression", SignedLogisticRegression(C=C)),
        ]
    )
    folds = StratifiedKFold(n_splits=calibration_folds, shuffle=True, random_state=seed)
    return CalibratedClassifierCV(core, method="sigmoid", cv=folds, ensemble=False)


def scorecard_parts(model: CalibratedClassifierCV) -> tuple[WoEBinner, SignedLogisticRegression, float, float]:
    """(binner, regression, a, b) of a fitted scorecard: P(bad) = 1 / (1 + exp(a * z + b)), z = regression score."""
    calibrated = model.calibrated_classifiers_[0]
    pipeline: Pipeline = calibrated.estimator
    calibrator = calibrated.calibrators[0]
    return pipeline.named_steps["binning"], pipeline.named_steps["regression"], float(calibrator.a_), float(calibrator.b_)


class CharacteristicsFrame(TransformerMixin, BaseEstimator):
    """Inputs -> numeric matrix for gradient boosting: numbers, category codes, derived characteristics."""

    def __init__(self, *, signature: Mapping[str, Any] | None = None) -> None:
        self.signature = signature

    def fit(self, X: pd.DataFrame, y: Any = None) -> CharacteristicsFrame:
        signature = Signature.from_dict(self.signature or {"features": []})
        self.categories_ = {f.name: list(f.categories) for f in signature.features if f.kind == "category"}
        self.n_features_in_ = len(signature.features)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        signature = Signature.from_dict(self.signature or {"features": []})
        frame = frame_with_derived(frame_conform(X, signature=signature), signature.derived)
        columns = []
        for name in [f.name for f in signature.features] + [d.name for d in signature.derived]:
            if name in self.categories_:
                codes = category_codes(frame[name], self.categories_[name]).astype(float)
                codes[codes < 0] = np.nan
                columns.append(codes)
            else:
                columns.append(frame[name].to_numpy(dtype=float))
        return np.column_stack(columns)

    def categorical_mask(self, signature: Signature) -> list[bool]:
        return [f.kind == "category" for f in signature.features] + [False] * len(signature.derived)


def challenger_pipeline(*, signature: Signature, seed: int = 42, params: Mapping[str, Any] | None = None) -> Pipeline:
    mask = [f.kind == "category" for f in signature.features] + [False] * len(signature.derived)
    settings = {**CHALLENGER_PARAMS, **dict(params or {})}
    return Pipeline(
        [
            ("characteristics", CharacteristicsFrame(signature=signature.to_dict())),
            ("boosting", HistGradientBoostingClassifier(categorical_features=mask, random_state=seed, **settings)),
        ]
    )
