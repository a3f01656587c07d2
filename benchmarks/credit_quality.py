"""Credit model quality on the embedded credit-data: 5x5 repeated stratified CV, fixed seeds.

Compares a plain logistic regression (the usual baseline), the WoE scorecard
(the served champion), gradient boosting with scikit-learn's defaults, the tuned
challenger, and a soft-vote blend of champion and challenger.  Prints a table
and writes reports/credit_quality.json.  Targets: champion ROC AUC >= 0.83 and
best model >= 0.84.

    python benchmarks/credit_quality.py [--repeats 5] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.compose import make_column_transformer  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from common.credit.models import CharacteristicsFrame, challenger_pipeline, scorecard_pipeline  # noqa: E402
from common.credit.training import credit_data_load, model_cross_validate  # noqa: E402
from common.training import TrainOptions, format_table  # noqa: E402

CHAMPION_TARGET = 0.83
BEST_TARGET = 0.84
REPORT = Path(__file__).resolve().parents[1] / "reports" / "credit_quality.json"


def plain_logistic_regression(categorical: list[str], numeric: list[str]) -> Pipeline:
    """One-hot + median imputation + scaling + logistic regression on the raw inputs (the common baseline)."""
    encode = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore"))
    scale = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    return make_pipeline(make_column_transformer((encode, categorical), (scale, numeric)),
                         LogisticRegression(max_iter=2000))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    data = credit_data_load(options=TrainOptions())
    signature = data.signature
    categorical = [f.name for f in signature.features if f.kind == "category"]
    numeric = [f.name for f in signature.features if f.kind != "category"]
    champion = scorecard_pipeline(signature=signature, directions=data.directions, seed=args.seed)
    challenger = challenger_pipeline(signature=signature, seed=args.seed)
    default_boosting = Pipeline([
        ("characteristics", CharacteristicsFrame(signature={**signature.to_dict(), "derived": []})),
        ("boosting", HistGradientBoostingClassifier(
            categorical_features=[f.kind == "category" for f in signature.features], random_state=args.seed)),
    ])
    candidates = [
        ("logistic regression (one-hot + scaling, raw inputs)", "baseline", plain_logistic_regression(categorical, numeric)),
        ("WoE scorecard, calibrated (served as credit)", "champion", champion),
        ("gradient boosting, scikit-learn defaults, raw inputs", "reference", default_boosting),
        ("gradient boosting, tuned (credit-challenger)", "challenger", challenger),
        ("blend: scorecard + tuned boosting (soft vote)", "blend",
         VotingClassifier([("scorecard", champion), ("boosting", challenger)], voting="soft")),
    ]
    rows = []
    for label, role, model in candidates:
        started = time.perf_counter()
        result = model_cross_validate(model=model, inputs=data.inputs, target=data.target, splits=args.splits,
                                      repeats=args.repeats, seed=args.seed, jobs=args.jobs)
        metrics = result.metrics
        rows.append({"model": label, "role": role, "roc_auc": metrics["roc_auc"], "auc_std": metrics["roc_auc_std"],
                     "ks": metrics["ks"], "gini": metrics["gini"], "brier": metrics["brier"],
                     "seconds": round(time.perf_counter() - started, 1)})
        print(f"  {label}: ROC AUC {metrics['roc_auc']:.4f}", file=sys.stderr, flush=True)
    print(f"\ncredit-data, {len(data.target)} applicants, {data.target.mean():.1%} bad; "
          f"{args.repeats}x{args.splits} repeated stratified CV, seed {args.seed}\n")
    print(format_table(rows, formats={"seconds": str}))
    champion_auc = next(r["roc_auc"] for r in rows if r["role"] == "champion")
    best = max(rows, key=lambda r: r["roc_auc"])
    checks = {
        f"champion ROC AUC >= {CHAMPION_TARGET}": champion_auc >= CHAMPION_TARGET,
        f"best model ROC AUC >= {BEST_TARGET}": best["roc_auc"] >= BEST_TARGET,
    }
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({
        "dataset": "credit-data", "rows": int(len(data.target)), "bad_rate": float(data.target.mean()),
        "protocol": f"{args.repeats}x{args.splits} repeated stratified K-fold, seed {args.seed}",
        "models": rows, "best": best["model"], "checks": checks,
        "numpy": np.__version__,
    }, indent=2))
    print(f"\nwritten {REPORT}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
