"""Stateless predictions with explanations: failure risk of readings, RUL of an engine's cycles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from common.maintenance.compiled import COMPILED_MAX_READINGS, FAILURE_OUTPUTS, failure_scorer
from common.maintenance.explanations import failure_top_features, physics_conditions, rul_top_features
from common.maintenance.features import (
    ENGINE_COLUMNS,
    OSF_LIMIT_MIN_NM,
    PHYSICS_FEATURES,
    READING_COLUMNS,
    engine_runs,
    physics_feature_values,
    physics_features,
    rul_features,
)
from common.maintenance.models import FailureRiskModel, RulModel
from common.maintenance.schemas import (
    FailurePredictionOut,
    ReadingIn,
    RulPredictionOut,
    RulRequestIn,
)
from common.registry import LoadedModel


def readings_frame(*, readings: Sequence[ReadingIn]) -> pd.DataFrame:
    """Validated readings -> the frame the failure model reads (product type + five sensors)."""
    return pd.DataFrame([{c: getattr(r, c) for c in READING_COLUMNS} for r in readings], columns=list(READING_COLUMNS))


def engine_frame(*, cycles: Sequence[Any], unit: int = 1) -> pd.DataFrame:
    """Validated engine cycles -> a C-MAPSS-shaped frame of one unit."""
    rows = [{c: getattr(cycle, c) for c in ENGINE_COLUMNS} for cycle in cycles]
    return pd.DataFrame(rows, columns=list(ENGINE_COLUMNS)).assign(unit=unit)


def failure_predict(*, loaded: LoadedModel, readings: Sequence[ReadingIn], explain: bool = True) -> list[FailurePredictionOut]:
    """Score readings with the failure model; each result carries physics conditions and top features.

    A few readings (an API call, the what-if form) go through the compiled trees
    (`common.maintenance.compiled`); large batches through the scikit-learn pipelines.
    Both give the same probabilities.
    """
    scorer = failure_scorer(loaded=loaded) if len(readings) <= COMPILED_MAX_READINGS else None
    if scorer is None:
        return _failure_predict_pipelines(loaded=loaded, readings=readings, explain=explain)
    rows = [physics_feature_values(**{c: getattr(r, c) for c in READING_COLUMNS}) for r in readings]
    scores = scorer.score(features=np.asarray(rows, dtype=np.float64).reshape(len(rows), -1), explain=explain)
    threshold = float(loaded.artifact.threshold_)
    return [
        _failure_out(reading=reading, features=dict(zip(PHYSICS_FEATURES, row, strict=True)),
                     probabilities=dict(zip(FAILURE_OUTPUTS, scores.probabilities[i].tolist(), strict=True)),
                     top_features=scores.top_features[i], threshold=threshold, explain=explain, ref=loaded.ref)
        for i, (reading, row) in enumerate(zip(readings, rows, strict=True))
    ]


def _failure_predict_pipelines(
    *, loaded: LoadedModel, readings: Sequence[ReadingIn], explain: bool
) -> list[FailurePredictionOut]:
    model: FailureRiskModel = loaded.artifact
    frame = readings_frame(readings=readings)
    features = physics_features(readings=frame)
    scores = model.predict_proba_frame(frame)
    top = failure_top_features(model=model, features=features) if explain else [[] for _ in range(len(frame))]
    threshold = float(model.threshold_)
    feature_rows = features.to_dict("records")
    score_rows = scores.to_dict("records")
    return [
        _failure_out(reading=reading, features=feature_rows[i], probabilities=score_rows[i], top_features=top[i],
                     threshold=threshold, explain=explain, ref=loaded.ref)
        for i, reading in enumerate(readings)
    ]


def _failure_out(
    *, reading: ReadingIn, features: Mapping[str, float], probabilities: Mapping[str, float],
    top_features: list[dict[str, Any]], threshold: float, explain: bool, ref: str,
) -> FailurePredictionOut:
    probability = float(probabilities["failure_probability"])
    return FailurePredictionOut(
        failure_probability=round(probability, 4),
        alert=probability >= threshold,
        alert_threshold=round(threshold, 4),
        mode_probabilities={name: round(float(probabilities[name]), 4)
                            for name in ("tool_wear", "heat_dissipation", "power", "overstrain")},
        physics={
            "power_w": round(float(features["power_w"]), 1),
            "temperature_difference_k": round(float(features["temperature_difference_k"]), 2),
            "strain_min_nm": round(float(features["strain_min_nm"]), 1),
            "strain_limit_min_nm": OSF_LIMIT_MIN_NM[reading.product_type],
        },
        conditions=physics_conditions(features=features, product_type=reading.product_type) if explain else [],
        top_features=top_features,
        model_version=ref,
    )


def rul_predict(*, loaded: LoadedModel, request: RulRequestIn) -> RulPredictionOut:
    """RUL at the last of an engine's cycles, with the sensors that moved it most."""
    model: RulModel = loaded.artifact
    frame = engine_frame(cycles=request.cycles)
    features = rul_features(frame=frame, sensors=model.sensors_).iloc[[-1]]
    predicted = float(model.predict_from_features(features)[0])
    top = rul_top_features(model=model, features=features)[0]
    return RulPredictionOut(
        remaining_useful_life_cycles=round(predicted, 1),
        cycle=int(frame["cycle"].iloc[-1]),
        cap_cycles=int(model.cap),
        cycles_used=int(len(frame)),
        top_features=top,
        model_version=loaded.ref,
    )


def rul_history_predict(*, model: RulModel, history: pd.DataFrame) -> np.ndarray:
    """Predicted RUL of every row of one machine's engine history (columns cycle + sensors, time order).

    A cycle number that does not increase starts a new engine run (an overhaul).
    """
    frame = history.assign(unit=engine_runs(cycles=history["cycle"].to_numpy()))
    return model.predict(frame)
