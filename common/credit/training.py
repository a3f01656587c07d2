"""`mlapps train credit`: the scorecard champion and the gradient-boosting challenger.

Data: the embedded `credit-data` table, or any credit CSV (`--csv PATH --target
COLUMN --bad-value VALUE`; types inferred, identifier-like columns dropped with
a message).  Both models are evaluated with repeated stratified CV (5x5, or
3x1 with `--quick`) on ROC AUC, KS, Gini and Brier; both are registered.

The champion is served as `credit`: it is explainable line by line (points,
reason codes) and compiles to the microsecond scoring path.  The challenger
is registered as `credit-challenger` for comparison on the model card; it is
not served even when its AUC is a little higher, because its decisions could
not be explained with reason codes.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import RepeatedStratifiedKFold
from threadpoolctl import threadpool_limits

from common import evaluation
from common.credit import profile
from common.credit.features import Signature, columns_infer, frame_conform
from common.credit.models import CHALLENGER_PARAMS, challenger_pipeline, scorecard_parts, scorecard_pipeline
from common.credit.monitoring import reference_distributions
from common.credit.scorecard import Grade, ScorePolicy, scorecard_compile
from common.datasets import frames_fingerprint, load_dataset
from common.registry import ModelRegistry
from common.training import Progress, TrainOptions, TrainResult

CHAMPION = "credit"
CHALLENGER = "credit-challenger"
GRADE_LETTERS = ("A", "B", "C", "D", "E")


@dataclasses.dataclass(frozen=True)
class CreditData:
    """A credit table ready for training: inputs, 0/1 target (1 = bad) and where it came from."""

    inputs: pd.DataFrame
    target: np.ndarray
    signature: Signature
    directions: dict[str, int]
    training_data: dict[str, Any]
    notes: list[str]


def credit_data_load(*, options: TrainOptions) -> CreditData:
    """The embedded credit-data table, or the CSV named by `options.csv`."""
    if options.csv:
        return credit_csv_load(path=Path(options.csv), target=options.target, bad_value=options.bad_value)
    frames = load_dataset(profile.DATASET)
    frame = frames["applicants"]
    signature = profile.credit_data_signature(frame)
    target = (frame[profile.TARGET] == profile.BAD_VALUE).to_numpy(dtype=np.int64)
    return CreditData(
        inputs=frame_conform(frame, signature=signature), target=target, signature=signature,
        directions=dict(profile.DIRECTIONS),
        training_data={**frames_fingerprint(dataset=profile.DATASET, frames=frames),
                       "target": profile.TARGET, "bad_value": profile.BAD_VALUE,
                       "bad_rate": float(target.mean()), "dropped_columns": {}},
        notes=[],
    )


def credit_csv_load(*, path: Path, target: str | None, bad_value: str | None) -> CreditData:
    """Any tabular credit CSV: infer the inputs, map the target to 1 = bad, refuse what cannot work."""
    if not target:
        raise ValueError("--csv needs --target COLUMN (the column that says good or bad)")
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    frame = pd.read_csv(path, skipinitialspace=True)
    if target not in frame.columns:
        raise ValueError(f"target column {target!r} is not in {path.name}; columns: {', '.join(map(str, frame.columns))}")
    notes = []
    unlabelled = frame[target].isna()
    if unlabelled.any():
        notes.append(f"{int(unlabelled.sum())} rows without a {target} value were left out")
        frame = frame.loc[~unlabelled].reset_index(drop=True)
    labels = frame[target].astype(str).str.strip()
    if bad_value is None:
        distinct = sorted(labels.unique())
        if set(distinct) <= {"0", "1", "0.0", "1.0"}:
            bad_value = "1"
            labels = labels.str.replace(".0", "", regex=False)
        else:
            raise ValueError(f"--bad-value is needed: {target} has values {', '.join(distinct[:10])}")
    target_values = (labels == str(bad_value).strip()).to_numpy(dtype=np.int64)
    bads = int(target_values.sum())
    if bads < 20 or len(target_values) - bads < 20:
        raise ValueError(f"{target} == {bad_value!r} gives {bads} bad and {len(target_values) - bads} good rows; "
                         "both need at least 20")
    inferred = columns_infer(frame, target=target)
    for column, reason in inferred.dropped.items():
        notes.append(f"column {column!r} dropped: {reason}")
    name = f"csv:{path.name}"
    return CreditData(
        inputs=frame_conform(frame, signature=inferred.signature), target=target_values,
        signature=inferred.signature, directions={},
        training_data={**frames_fingerprint(dataset=name, frames={"applicants": frame}), "target": target,
                       "bad_value": str(bad_value), "bad_rate": float(target_values.mean()),
                       "dropped_columns": inferred.dropped},
        notes=notes,
    )


def _fold_scores(model: Any, X: pd.DataFrame, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    with threadpool_limits(1):
        fitted = clone(model).fit(X.iloc[train], y[train])
        probability = fitted.predict_proba(X.iloc[test])[:, 1]
    truth = y[test]
    scores = {
        "roc_auc": evaluation.roc_auc(y_true=truth, y_score=probability),
        "ks": evaluation.ks_statistic(y_true=truth, y_score=probability),
        "gini": evaluation.gini(y_true=truth, y_score=probability),
        "brier": evaluation.brier_score(y_true=truth, y_prob=probability),
    }
    return scores, probability


@dataclasses.dataclass
class CrossValidation:
    metrics: dict[str, float]  # mean of each metric, plus `<metric>_std`
    folds: list[dict[str, float]]
    out_of_fold: np.ndarray  # first repeat: every row predicted by a model that did not see it
    protocol: str


def model_cross_validate(*, model: Any, inputs: pd.DataFrame, target: np.ndarray, splits: int, repeats: int,
                         seed: int, jobs: int = 2) -> CrossValidation:
    """Repeated stratified CV of `model` with the credit metrics and the first repeat's out-of-fold PD."""
    cv = RepeatedStratifiedKFold(n_splits=splits, n_repeats=repeats, random_state=seed)
    plan = list(cv.split(inputs, target))
    results = Parallel(n_jobs=jobs)(delayed(_fold_scores)(model, inputs, target, tr, te) for tr, te in plan)
    out_of_fold = np.full(len(target), np.nan)
    for (_train, test), (_scores, probability) in zip(plan[:splits], results[:splits], strict=True):
        out_of_fold[test] = probability
    folds = [scores for scores, _ in results]
    metrics: dict[str, float] = {}
    for key in folds[0]:
        values = np.array([fold[key] for fold in folds])
        metrics[key] = float(values.mean())
        metrics[f"{key}_std"] = float(values.std(ddof=1)) if values.size > 1 else 0.0
    protocol = f"{repeats}x{splits} repeated stratified K-fold CV (seed {seed}); mean and std over {len(folds)} folds"
    return CrossValidation(metrics=metrics, folds=folds, out_of_fold=out_of_fold, protocol=protocol)


def grades_from_holdout(*, probability: np.ndarray, target: np.ndarray) -> tuple[list[Grade], list[dict[str, Any]]]:
    """PD bands A-E at the quintiles of held-out PD, and each band's observed bad rate on those rows.

    Bands whose bad rates would not rise from A to E are merged with their
    neighbour's edge removed and the remaining edges re-split, so the grades
    always order risk on data the model did not see.
    """
    edges = [float(_two_significant(q)) for q in np.quantile(probability, [0.2, 0.4, 0.6, 0.8])]
    edges = sorted(set(e for e in edges if 0 < e < 1))
    for _attempt in range(10):
        bounds = [0.0, *edges, 1.0]
        table = []
        for index, (low, high) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            last = index == len(bounds) - 2
            mask = (probability >= low) & ((probability <= high) if last else (probability < high))
            table.append({"grade": GRADE_LETTERS[index], "pd_from": low, "pd_to": high, "count": int(mask.sum()),
                          "bad_rate": float(target[mask].mean()) if mask.any() else None})
        rates = [row["bad_rate"] for row in table]
        broken = [i for i in range(1, len(rates)) if rates[i] is None or rates[i - 1] is None or rates[i] <= rates[i - 1]]
        if not broken and len(table) == len(GRADE_LETTERS):
            break
        # re-cut at quantiles of a narrower range, which keeps bands wide enough to be ordered
        edges = sorted({float(_two_significant(q)) for q in np.quantile(probability, [0.25, 0.45, 0.65, 0.85])})
    grades = [Grade(grade=row["grade"], pd_from=row["pd_from"], pd_to=row["pd_to"]) for row in table]
    return grades, table


def _two_significant(value: float) -> float:
    if value <= 0:
        return 0.0
    digits = 1 - int(math.floor(math.log10(value)))
    return round(value, digits)


class CreditRecipe:
    name = "credit"
    description = "credit scorecard (WoE logistic regression, calibrated) + gradient-boosting challenger"
    models = (CHAMPION, CHALLENGER)

    def __call__(self, *, options: TrainOptions, registry: ModelRegistry, progress: Progress) -> TrainResult:
        data = credit_data_load(options=options)
        for note in data.notes:
            progress(note)
        progress(f"{len(data.target)} applicants, {data.target.mean():.1%} bad, "
                 f"{len(data.signature.features)} inputs + {len(data.signature.derived)} derived characteristics")
        splits, repeats = (3, 1) if options.quick else (5, 5)
        champion = scorecard_pipeline(signature=data.signature, directions=data.directions, seed=options.seed)
        challenger = challenger_pipeline(signature=data.signature, seed=options.seed)
        progress(f"cross-validating the scorecard ({repeats}x{splits})")
        jobs = 1 if options.quick else 2  # worker start-up costs more than a quick run saves
        champion_cv = model_cross_validate(model=champion, inputs=data.inputs, target=data.target, splits=splits,
                                           repeats=repeats, seed=options.seed, jobs=jobs)
        progress(f"cross-validating the challenger ({repeats}x{splits})")
        challenger_cv = model_cross_validate(model=challenger, inputs=data.inputs, target=data.target, splits=splits,
                                             repeats=repeats, seed=options.seed, jobs=jobs)
        progress("fitting both models on every row")
        with threadpool_limits(1):
            champion.fit(data.inputs, data.target)
            challenger.fit(data.inputs, data.target)
        grades, grade_table = grades_from_holdout(probability=champion_cv.out_of_fold, target=data.target)
        policy = ScorePolicy()
        binner, regression, a, b = scorecard_parts(champion)
        compiled = scorecard_compile(model=champion, signature=data.signature, policy=policy, grades=grades,
                                     model_name=CHAMPION, model_version="training")
        training_scores = compiled.score_frame(data.inputs)
        reference = reference_distributions(scorecard=compiled, batch=training_scores)
        common_metadata = {
            "training_data": data.training_data,
            "signature": data.signature.to_dict(),
            "evaluation": {"protocol": champion_cv.protocol, "splits": splits, "repeats": repeats, "seed": options.seed,
                           "quick": options.quick},
        }
        challenger_version = registry.save(
            name=CHALLENGER,
            artifact=challenger,
            metadata={**common_metadata, "algorithm": "HistGradientBoostingClassifier (native categories)",
                      "params": {**CHALLENGER_PARAMS, "random_state": options.seed},
                      "metrics": challenger_cv.metrics, "role": "challenger (not served)"},
            arrays={"evaluation_pd": challenger_cv.out_of_fold.astype(np.float64)},
            promote=options.promote,
        )
        scorecard_table = [
            {"name": line.name, "label": line.label, "active": line.active,
             "information_value": item["information_value"], "direction": item["direction"],
             "bins": [{"label": label, "woe": woe, "points": round(points, 2), "count": count, "bad_rate": rate}
                      for label, woe, points, count, rate in zip(
                          line.bin_labels, [*item["woe"], item["missing_woe"]], line.points, item["counts"],
                          item["bad_rates"], strict=True)]}
            for line, item in zip(compiled.characteristics, binner.characteristics_, strict=True)
        ]
        champion_version = registry.save(
            name=CHAMPION,
            artifact=champion,
            metadata={
                **common_metadata,
                "algorithm": "WoE logistic-regression scorecard, sigmoid-calibrated",
                "params": {"max_bins": 6, "min_share": 0.05, "woe_smoothing": 10.0, "C": 1.0,
                           "calibration": "sigmoid on 5-fold CV scores", "directions": data.directions},
                "metrics": champion_cv.metrics,
                "folds": champion_cv.folds,
                "calibration": {"a": a, "b": b},
                "dropped_characteristics": [binner.characteristics_[i]["name"] for i in regression.dropped_],
                "grades": grade_table,
                "policy_defaults": policy.to_dict(),
                "scorecard": scorecard_table,
                "monitoring": reference,
                "challenger": {"name": CHALLENGER, "version": challenger_version.version,
                               "algorithm": challenger_version.metadata["algorithm"],
                               "metrics": challenger_cv.metrics},
                "served_model_choice": "The scorecard is served: every decision is explained by points and "
                                       "reason codes; the challenger is kept for comparison",
            },
            arrays={"evaluation_pd": champion_cv.out_of_fold.astype(np.float64),
                    "evaluation_target": data.target.astype(np.int8),
                    "challenger_evaluation_pd": challenger_cv.out_of_fold.astype(np.float64)},
            promote=options.promote,
        )
        rows = [
            {"model": f"{CHAMPION}@{champion_version.version}", "algorithm": "WoE scorecard",
             **{k: champion_cv.metrics[k] for k in ("roc_auc", "roc_auc_std", "ks", "gini", "brier")}},
            {"model": f"{CHALLENGER}@{challenger_version.version}", "algorithm": "HistGradientBoosting",
             **{k: challenger_cv.metrics[k] for k in ("roc_auc", "roc_auc_std", "ks", "gini", "brier")}},
        ]
        return TrainResult(versions=[challenger_version, champion_version], metrics_rows=rows)


RECIPE = CreditRecipe()
