"""`mlapps train maintenance`: the failure-risk and remaining-useful-life models.

Data: the real files (`ai4i-2020`, `cmapss-fd001`; cache -> mirror -> download)
when available, else the embedded simulators (`ai4i-sim`, `cmapss-sim`); the
model card says which.  `--dataset sim` forces the simulators, `--dataset real`
forbids the fallback.

Simulator sizes: `--set failure_rows=N --set rul_engines=N` (defaults 10,000 and 100).

Failure risk: stratified k-fold CV (5 folds, 3 with --quick) gives out-of-fold
probabilities; the alert threshold is the one with the best F1 among those
with precision >= 0.9 on them; the final model is fitted on all rows.
Remaining useful life: grouped k-fold CV over training engines, scored at cut
points drawn like the test set (7-145 cycles before failure, at least 31
cycles seen), then a final fit on all training engines, scored on the last
cycle of each test engine (RMSE and PHM08 score).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import GroupKFold, StratifiedKFold

from common import evaluation
from common.datasets import DatasetUnavailableError, frames_fingerprint, get_dataset, load_dataset, where_from
from common.maintenance.compiled import failure_model_arrays
from common.maintenance.features import (
    FAILURE_MODES,
    FAILURE_TARGET,
    PHYSICS_FEATURES,
    PRODUCT_TYPES,
    SENSOR_COLUMNS,
    rul_features,
)
from common.maintenance.models import FAILURE_ESTIMATORS, MODE_ESTIMATORS, FailureRiskModel, RulModel
from common.registry import ModelRegistry, ModelVersion
from common.training import Progress, TrainOptions, TrainResult

FAILURE_MODEL = "maintenance-failure"
RUL_MODEL = "maintenance-rul"
ALERT_MIN_PRECISION = 0.9
REAL_FAILURE_DATASET, SIM_FAILURE_DATASET = "ai4i-2020", "ai4i-sim"
REAL_RUL_DATASET, SIM_RUL_DATASET = "cmapss-fd001", "cmapss-sim"
RUL_CUTS_PER_ENGINE = 5
RUL_CUT_RANGE = (7, 145)
RUL_MIN_SEEN = 31
CURVE_POINTS = 120


# --------------------------------------------------------------------------- data
@dataclasses.dataclass(frozen=True)
class TrainingData:
    dataset: str
    frames: dict[str, pd.DataFrame]
    source: str  # where it came from, said on the model card

    @property
    def simulated(self) -> bool:
        return get_dataset(self.dataset).embedded


def training_data_load(
    *, real: str, simulated: str, choice: str | None, seed: int, sim_options: dict[str, Any] | None = None
) -> TrainingData:
    """The real dataset when available (or asked for), else the simulator; `choice` overrides.

    `choice`: None (real if available), "real", "sim", or a dataset name.
    `sim_options` go to the simulator (`rows=` for AI4I, `engines=` for C-MAPSS).
    """
    sim_options = {"seed": seed, **(sim_options or {})}
    if choice in (simulated, "sim", "simulator"):
        return TrainingData(simulated, load_dataset(simulated, **sim_options), "simulator (asked for)")
    if choice not in (None, "real", real):
        raise ValueError(f"dataset {choice!r} does not fit this model; use {real!r}, {simulated!r}, 'real' or 'sim'")
    spec = get_dataset(real)
    origin = where_from(spec)
    try:
        frames = load_dataset(real)
    except DatasetUnavailableError as exc:
        if choice is not None:
            raise
        reason = str(exc).split(":")[0]
        return TrainingData(simulated, load_dataset(simulated, **sim_options), f"simulator (real file unavailable: {reason})")
    return TrainingData(real, frames, f"real file ({origin})")


# --------------------------------------------------------------------------- thresholds and curves
def alert_threshold_for_precision(*, y_true: np.ndarray, y_prob: np.ndarray, min_precision: float) -> float:
    """The threshold with the best F1 among those reaching `min_precision`.

    Alerts must be trustworthy (precision first); among trustworthy thresholds
    the one that catches the most failures for its false alarms wins.  Falls
    back to `common.evaluation.best_threshold_for_precision` when none reaches it.
    """
    precision, recall, thresholds = precision_recall_curve(y_true, y_prob)
    precision, recall = precision[:-1], recall[:-1]
    denominator = np.where(precision + recall > 0, precision + recall, 1.0)
    f1 = np.where(precision >= min_precision, 2 * precision * recall / denominator, -1.0)
    if f1.max() < 0:
        return evaluation.best_threshold_for_precision(y_true=y_true, y_prob=y_prob, min_precision=min_precision)
    return float(thresholds[int(np.argmax(f1))])


def pr_curve_points(*, y_true: np.ndarray, y_prob: np.ndarray, points: int = CURVE_POINTS) -> list[list[float]]:
    """[recall, precision] pairs of the PR curve, thinned for the model card."""
    precision, recall, _ = precision_recall_curve(y_true, y_prob)
    keep = np.unique(np.linspace(0, len(recall) - 1, min(points, len(recall))).astype(int))
    return [[round(float(recall[i]), 4), round(float(precision[i]), 4)] for i in keep]


# --------------------------------------------------------------------------- failure risk
def failure_oof_probabilities(
    *, readings: pd.DataFrame, params: dict[str, Any], folds: int, seed: int, targets: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """Out-of-fold probabilities (stratified on machine failure) of every row."""
    result = pd.DataFrame(index=readings.index, columns=["failure_probability", *FAILURE_MODES.values()], dtype=float)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_index, test_index in splitter.split(readings, readings[FAILURE_TARGET]):
        model = FailureRiskModel(**params).fit(readings.iloc[train_index], targets=targets)
        result.iloc[test_index] = model.predict_proba_frame(readings.iloc[test_index]).to_numpy()
    return result


def failure_metrics(*, readings: pd.DataFrame, oof: pd.DataFrame) -> tuple[dict[str, Any], float]:
    y = readings[FAILURE_TARGET].to_numpy(int)
    p = oof["failure_probability"].to_numpy(float)
    threshold = alert_threshold_for_precision(y_true=y, y_prob=p, min_precision=ALERT_MIN_PRECISION)
    at = evaluation.threshold_metrics(y_true=y, y_prob=p, threshold=threshold)
    metrics = {
        "pr_auc": evaluation.pr_auc(y_true=y, y_score=p),
        "roc_auc": evaluation.roc_auc(y_true=y, y_score=p),
        "f1": at["f1"],
        "precision": at["precision"],
        "recall": at["recall"],
        "brier": evaluation.brier_score(y_true=y, y_prob=p),
        "alert_threshold": threshold,
        "failure_rate": float(y.mean()),
    }
    for flag, name in FAILURE_MODES.items():
        flags = readings[flag].to_numpy(int)
        if flags.sum() and name in oof:
            metrics[f"pr_auc_{name}"] = evaluation.pr_auc(y_true=flags, y_score=oof[name].to_numpy(float))
    return metrics, threshold


def _reading_signature(readings: pd.DataFrame) -> dict[str, Any]:
    units = {"air_temperature_k": "K", "process_temperature_k": "K", "rotational_speed_rpm": "rpm",
             "torque_nm": "Nm", "tool_wear_min": "min"}
    inputs: dict[str, Any] = {"product_type": {"type": "category", "categories": list(PRODUCT_TYPES)}}
    for column in SENSOR_COLUMNS:
        inputs[column] = {"type": "float", "unit": units[column],
                          "range": [float(readings[column].min()), float(readings[column].max())]}
    return {
        "inputs": inputs,
        "features": list(PHYSICS_FEATURES),
        "outputs": {"failure_probability": "P(machine failure)",
                    **{name: f"P({flag.upper()})" for flag, name in FAILURE_MODES.items()}},
        "never_inputs": ["udi", "product_id", "twf", "hdf", "pwf", "osf", "rnf"],
    }


def failure_model_train(
    *, options: TrainOptions, registry: ModelRegistry, progress: Progress
) -> tuple[ModelVersion, dict[str, Any]]:
    rows = options.extra.get("failure_rows")
    data = training_data_load(real=REAL_FAILURE_DATASET, simulated=SIM_FAILURE_DATASET,
                              choice=_dataset_choice(options, "failure"), seed=options.seed,
                              sim_options={"rows": int(rows)} if rows else None)
    readings = data.frames["readings"]
    folds = 3 if options.quick else 5
    params = {"algorithm": options.algorithm or options.extra.get("failure_algorithm", "forest_blend"),
              "n_estimators": 60 if options.quick else FAILURE_ESTIMATORS,
              "mode_estimators": 30 if options.quick else MODE_ESTIMATORS,
              "min_samples_leaf": 1, "random_state": options.seed}
    progress(f"failure risk: {len(readings):,} readings from {data.dataset} ({data.source}); {folds}-fold CV")
    oof = failure_oof_probabilities(readings=readings, params=params, folds=folds, seed=options.seed)
    metrics, threshold = failure_metrics(readings=readings, oof=oof)
    progress(f"failure risk: PR AUC {metrics['pr_auc']:.3f}, F1 {metrics['f1']:.3f} at threshold {threshold:.3f}")
    model = FailureRiskModel(**params).fit(readings)
    model.threshold_ = threshold
    y = readings[FAILURE_TARGET].to_numpy(int)
    p = oof["failure_probability"].to_numpy(float)
    at = evaluation.threshold_metrics(y_true=y, y_prob=p, threshold=threshold)
    metadata = {
        "algorithm": f"{params['algorithm']} on physics features (+ extra trees per failure mode)",
        "params": params,
        "metrics": metrics,
        "evaluation": {
            "protocol": f"{folds}-fold stratified CV (shuffled, seed {options.seed}); out-of-fold probabilities; "
            f"alert threshold = best F1 with precision >= {ALERT_MIN_PRECISION} on them",
            "folds": folds,
        },
        "training_data": frames_fingerprint(dataset=data.dataset, frames=data.frames) | {
            "source": data.source, "simulated": data.simulated},
        "signature": _reading_signature(readings),
        "alert_threshold": threshold,
        "model_card": {
            "pr_curve": pr_curve_points(y_true=y, y_prob=p),
            "confusion_matrix": {k: int(at[k]) for k in ("tp", "fp", "fn", "tn")},
        },
    }
    # The served path's compiled trees travel with the version (memory-mapped when loaded).
    version = registry.save(name=FAILURE_MODEL, artifact=model, metadata=metadata,
                            arrays=failure_model_arrays(model=model), promote=options.promote)
    row = {"model": FAILURE_MODEL, "dataset": data.dataset, "protocol": f"{folds}-fold CV",
           "pr_auc": metrics["pr_auc"], "f1": metrics["f1"], "precision": metrics["precision"],
           "threshold": threshold}
    return version, row


# --------------------------------------------------------------------------- remaining useful life
def rul_cut_rows(*, frame: pd.DataFrame, seed: int, per_engine: int = RUL_CUTS_PER_ENGINE) -> np.ndarray:
    """Positions of rows drawn like test cut-offs: 7-145 cycles before the unit's end, >= 31 cycles seen."""
    rng = np.random.default_rng(seed)
    last = frame.groupby("unit")["cycle"].transform("max").to_numpy()
    cycle = frame["cycle"].to_numpy()
    remaining = last - cycle
    low, high = RUL_CUT_RANGE
    eligible = (remaining >= low) & (remaining <= high) & (cycle >= RUL_MIN_SEEN)
    chosen = []
    for unit in np.unique(frame["unit"].to_numpy()):
        candidates = np.flatnonzero(eligible & (frame["unit"].to_numpy() == unit))
        if candidates.size:
            chosen.extend(rng.choice(candidates, size=min(per_engine, candidates.size), replace=False))
    return np.sort(np.asarray(chosen, dtype=int))


def rul_cross_validate(*, train: pd.DataFrame, params: dict[str, Any], folds: int, seed: int) -> dict[str, float]:
    """Grouped (by engine) CV on training engines, scored at test-like cut points (true RUL, uncapped)."""
    units = train["unit"].to_numpy()
    cuts = rul_cut_rows(frame=train, seed=seed)
    true_rul = (train.groupby("unit")["cycle"].transform("max") - train["cycle"]).to_numpy(float)
    predicted = np.full(len(train), np.nan)
    for train_index, test_index in GroupKFold(n_splits=folds).split(train, groups=units):
        model = RulModel(**params).fit(train.iloc[train_index])
        features = rul_features(frame=train.iloc[test_index], sensors=model.sensors_)
        predicted[test_index] = model.predict_from_features(features)
    y_true, y_pred = true_rul[cuts], predicted[cuts]
    return {
        "cv_rmse": evaluation.rmse(y_true=y_true, y_pred=y_pred),
        "cv_mae": evaluation.mae(y_true=y_true, y_pred=y_pred),
        # PHM08 is a sum over engines; per 100 cut points it compares with test scores of 100 engines.
        "cv_phm08_per_100": evaluation.phm08_score(y_true=y_true, y_pred=y_pred) * 100.0 / len(cuts),
        "cv_points": int(len(cuts)),
    }


def rul_test_scores(*, model: RulModel, test: pd.DataFrame, rul: pd.DataFrame) -> tuple[dict[str, float], list[list[float]]]:
    last = model.predict_last(test).merge(rul, on="unit", how="inner")
    y_true, y_pred = last["rul"].to_numpy(float), last["predicted_rul"].to_numpy(float)
    metrics = {
        "test_rmse": evaluation.rmse(y_true=y_true, y_pred=y_pred),
        "test_phm08": evaluation.phm08_score(y_true=y_true, y_pred=y_pred),
        "test_mae": evaluation.mae(y_true=y_true, y_pred=y_pred),
        "test_engines": int(len(last)),
    }
    pairs = [[float(t), round(float(p), 2)] for t, p in zip(y_true, y_pred, strict=True)]
    return metrics, pairs


def rul_default_params(*, quick: bool, seed: int) -> dict[str, Any]:
    return {"max_iter": 100 if quick else 300, "learning_rate": 0.1 if quick else 0.05, "max_leaf_nodes": 15,
            "min_samples_leaf": 50, "l2_regularization": 0.0, "cap": 125, "random_state": seed}


def rul_model_train(
    *, options: TrainOptions, registry: ModelRegistry, progress: Progress
) -> tuple[ModelVersion, dict[str, Any]]:
    engines = options.extra.get("rul_engines")
    data = training_data_load(real=REAL_RUL_DATASET, simulated=SIM_RUL_DATASET,
                              choice=_dataset_choice(options, "rul"), seed=options.seed,
                              sim_options={"engines": int(engines)} if engines else None)
    train, test, rul = data.frames["train"], data.frames["test"], data.frames["rul"]
    params = rul_default_params(quick=options.quick, seed=options.seed)
    folds = 3 if options.quick else 5
    progress(f"remaining useful life: {train['unit'].nunique()} training engines from {data.dataset} "
             f"({data.source}); {folds}-fold grouped CV")
    cv = rul_cross_validate(train=train, params=params, folds=folds, seed=options.seed)
    model = RulModel(**params).fit(train)
    test_metrics, pairs = rul_test_scores(model=model, test=test, rul=rul)
    metrics = {**test_metrics, **cv}
    progress(f"remaining useful life: test RMSE {metrics['test_rmse']:.2f}, PHM08 {metrics['test_phm08']:.0f}")
    metadata = {
        "algorithm": "histogram gradient boosting on windowed sensor features (last, 30-cycle mean/std/slope, "
        "EWM, 90-cycle slope, cycle count)",
        "params": params,
        "metrics": metrics,
        "evaluation": {
            "protocol": f"{folds}-fold CV grouped by engine on the training engines, scored at "
            f"{RUL_CUTS_PER_ENGINE} cut points per engine ({RUL_CUT_RANGE[0]}-{RUL_CUT_RANGE[1]} cycles before "
            f"failure, >= {RUL_MIN_SEEN} seen); then fit on all training engines and score the last cycle of "
            "each test engine against its true RUL",
            "target": f"RUL capped at {params['cap']} cycles",
        },
        "training_data": frames_fingerprint(dataset=data.dataset, frames=data.frames) | {
            "source": data.source, "simulated": data.simulated},
        "signature": {
            "inputs": {"cycle": {"type": "int", "range": [1, int(train["cycle"].max())]},
                       **{s: {"type": "float", "range": [float(train[s].min()), float(train[s].max())]}
                          for s in model.sensors_}},
            "sensors_used": list(model.sensors_),
            "features": model.feature_names,
            "output": f"remaining useful life in cycles (0-{params['cap']})",
        },
        "model_card": {"rul_test": pairs},
    }
    version = registry.save(name=RUL_MODEL, artifact=model, metadata=metadata, promote=options.promote)
    row = {"model": RUL_MODEL, "dataset": data.dataset, "protocol": "test last cycles",
           "rmse": metrics["test_rmse"], "phm08": metrics["test_phm08"], "cv_rmse": metrics["cv_rmse"]}
    return version, row


def _dataset_choice(options: TrainOptions, which: str) -> str | None:
    """`--set failure_dataset=...` / `--set rul_dataset=...` win over `--dataset`.

    `--dataset` applies to both models: "real", "sim", or either model's dataset
    name, read as real / simulated for the other model.
    """
    specific = options.extra.get(f"{which}_dataset")
    if specific:
        return specific
    if options.dataset in (SIM_FAILURE_DATASET, SIM_RUL_DATASET):
        return "sim"
    if options.dataset in (REAL_FAILURE_DATASET, REAL_RUL_DATASET):
        return "real"
    return options.dataset


@dataclasses.dataclass(frozen=True)
class MaintenanceRecipe:
    name: str = "maintenance"
    description: str = "failure risk (AI4I 2020) and remaining useful life (C-MAPSS FD001), simulators as fallback"
    models: tuple[str, ...] = (FAILURE_MODEL, RUL_MODEL)

    def __call__(self, *, options: TrainOptions, registry: ModelRegistry, progress: Progress) -> TrainResult:
        failure_version, failure_row = failure_model_train(options=options, registry=registry, progress=progress)
        rul_version, rul_row = rul_model_train(options=options, registry=registry, progress=progress)
        return TrainResult(versions=[failure_version, rul_version], metrics_rows=[failure_row, rul_row])


RECIPE = MaintenanceRecipe()
