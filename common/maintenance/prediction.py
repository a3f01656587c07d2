"""Stateless predictions with explanations: failure risk of readings, RUL of an engine's cycles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from common.maintenance.compiled import COMPILED_MAX_READINGS, FAILURE_OUTPUTS, FailureScorer, failure_scorer
from common.maintenance.explanations import failure_top_features, physics_conditions_of, rul_top_features
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

# Positions in a row of `PHYSICS_FEATURES` of what a prediction shows, and the failure modes' outputs.
_POWER, _DIFFERENCE, _SPEED, _STRAIN, _WEAR = (PHYSICS_FEATURES.index(name) for name in (
    "power_w", "temperature_difference_k", "rotational_speed_rpm", "strain_min_nm", "tool_wear_min"))
_MODE_OUTPUTS = FAILURE_OUTPUTS[1:]  # after P(machine failure): tool_wear, heat_dissipation, power, overstrain


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
    return [FailurePredictionOut.model_validate(answer)
            for answer in failure_answers(loaded=loaded, readings=readings, explain=explain)]


def failure_answers(*, loaded: LoadedModel, readings: Sequence[ReadingIn], explain: bool = True) -> list[dict[str, Any]]:
    """`failure_predict` as plain values: per reading a dict of `FailurePredictionOut`'s fields, in its order and
    of its types (Python floats, bools, strings), so that `pydantic_core.to_json` of it is the model's JSON
    without building the model (what the API answers: the values are made here, from validated readings)."""
    scorer = _failure_scorer_for(loaded=loaded, readings=readings)
    if scorer is None:
        return _failure_answers_pipelines(loaded=loaded, readings=readings, explain=explain)
    return _failure_answers_compiled(scorer=scorer, loaded=loaded, readings=readings, explain=explain)


def _failure_scorer_for(*, loaded: LoadedModel, readings: Sequence[ReadingIn]) -> FailureScorer | None:
    """The compiled trees for a few readings; None: the pipelines (a large batch, or trees that do not compile)."""
    return failure_scorer(loaded=loaded) if len(readings) <= COMPILED_MAX_READINGS else None


def _failure_answers_compiled(
    *, scorer: FailureScorer, loaded: LoadedModel, readings: Sequence[ReadingIn], explain: bool,
) -> list[dict[str, Any]]:
    rows = [physics_feature_values(
        product_type=r.product_type, air_temperature_k=r.air_temperature_k, process_temperature_k=r.process_temperature_k,
        rotational_speed_rpm=r.rotational_speed_rpm, torque_nm=r.torque_nm, tool_wear_min=r.tool_wear_min,
    ) for r in readings]
    probabilities, top_features = scorer.score_rows(rows, explain=explain)
    threshold = float(loaded.artifact.threshold_)
    return [
        _failure_out(product_type=reading.product_type, features=row, probabilities=p, top_features=top,
                     threshold=threshold, explain=explain, ref=loaded.ref)
        for reading, row, p, top in zip(readings, rows, probabilities, top_features, strict=True)
    ]


def _failure_answers_pipelines(
    *, loaded: LoadedModel, readings: Sequence[ReadingIn], explain: bool
) -> list[dict[str, Any]]:
    model: FailureRiskModel = loaded.artifact
    frame = readings_frame(readings=readings)
    features = physics_features(readings=frame)
    scores = model.predict_proba_frame(frame)
    top = failure_top_features(model=model, features=features) if explain else [[] for _ in range(len(frame))]
    threshold = float(model.threshold_)
    feature_rows = features[list(PHYSICS_FEATURES)].to_numpy(dtype=np.float64).tolist()
    score_rows = scores[list(FAILURE_OUTPUTS)].to_numpy(dtype=np.float64).tolist()
    return [
        _failure_out(
            product_type=reading.product_type, features=feature_rows[i], probabilities=score_rows[i],
            top_features=top[i], threshold=threshold, explain=explain, ref=loaded.ref)
        for i, reading in enumerate(readings)
    ]


def _failure_out(
    *, product_type: str, features: Sequence[float], probabilities: Sequence[float],
    top_features: list[dict[str, Any]], threshold: float, explain: bool, ref: str,
) -> dict[str, Any]:
    """One answer (`FailurePredictionOut`'s fields, in order) from a reading's physics features (`PHYSICS_FEATURES`
    order) and its probabilities (`FAILURE_OUTPUTS` order), Python floats."""
    probability = probabilities[0]
    power, difference, strain = features[_POWER], features[_DIFFERENCE], features[_STRAIN]
    return {
        "failure_probability": round(probability, 4),
        "alert": probability >= threshold,
        "alert_threshold": round(threshold, 4),
        "mode_probabilities": {name: round(p, 4) for name, p in zip(_MODE_OUTPUTS, probabilities[1:], strict=True)},
        "physics": {
            "power_w": round(power, 1),
            "temperature_difference_k": round(difference, 2),
            "strain_min_nm": round(strain, 1),
            "strain_limit_min_nm": OSF_LIMIT_MIN_NM[product_type],
        },
        "conditions": physics_conditions_of(power=power, difference=difference, speed=features[_SPEED], strain=strain,
                                            wear=features[_WEAR], product_type=product_type) if explain else [],
        "top_features": top_features,
        "model_version": ref,
    }


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
