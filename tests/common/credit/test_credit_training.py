"""`mlapps train credit`: what is registered, and training on any credit CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.credit.features import columns_infer
from common.credit.service import applicant_schema, scorecard_from_model
from common.credit.training import credit_csv_load
from common.registry import LoadedModel, ModelRegistry
from common.training import TrainOptions, run_training


def test_champion_and_challenger_are_registered_with_their_evaluation(credit_store: Path, champion: LoadedModel) -> None:
    registry = ModelRegistry(credit_store)
    assert registry.current_version("credit") and registry.current_version("credit-challenger")
    metadata = champion.metadata
    for metrics in (metadata["metrics"], metadata["challenger"]["metrics"]):
        assert {"roc_auc", "ks", "gini", "brier", "roc_auc_std"} <= set(metrics)
        assert 0.75 < metrics["roc_auc"] < 1
        assert metrics["gini"] == pytest.approx(2 * metrics["roc_auc"] - 1)
    assert "repeated stratified" in metadata["evaluation"]["protocol"]
    assert metadata["training_data"]["dataset"] == "credit-data"
    assert metadata["training_data"]["rows"] == {"applicants": 4454}
    assert len(metadata["training_data"]["content_sha256"]) == 64
    assert [f["name"] for f in metadata["signature"]["features"]][:3] == ["Seniority", "Home", "Time"]
    assert champion.arrays["evaluation_pd"].shape == (4454,)
    challenger = registry.load("credit-challenger")
    assert challenger.metadata["role"].startswith("challenger")
    assert metadata["challenger"]["version"] == challenger.version


def test_calibration_keeps_the_scorecard_linear_and_in_the_right_direction(champion: LoadedModel) -> None:
    calibration = champion.metadata["calibration"]
    # P(bad) = 1 / (1 + exp(a z + b)) with z the regression's log bad odds: a must be negative
    assert calibration["a"] < 0


def _synthetic_credit_csv(path: Path, *, rows: int = 800, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    income = rng.gamma(4, 500, rows).round(2)
    debt = rng.gamma(2, 300, rows).round(2)
    region = rng.choice(["north", "south", "east"], rows)
    risk = -1.0 - income / 2000 + debt / 800 + (region == "south") * 0.7
    bad = rng.random(rows) < 1 / (1 + np.exp(-risk))
    income[rng.random(rows) < 0.05] = np.nan
    frame = pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(rows)],
        "application_date": pd.date_range("2024-01-01", periods=rows, freq="h").strftime("%Y-%m-%d"),
        "monthly_income": income, "existing_debt": debt, "region": region, "product": "loan",
        "outcome": np.where(bad, "defaulted", "repaid"),
    })
    frame.to_csv(path, index=False)
    return path


def test_columns_infer_drops_identifiers_dates_and_constants_with_a_reason(tmp_path: Path) -> None:
    frame = pd.read_csv(_synthetic_credit_csv(tmp_path / "loans.csv"))
    inferred = columns_infer(frame, target="outcome")
    assert [f.name for f in inferred.signature.features] == ["monthly_income", "existing_debt", "region"]
    assert set(inferred.dropped) == {"customer_id", "application_date", "product"}
    assert "identifier" in inferred.dropped["customer_id"]
    assert "date" in inferred.dropped["application_date"]
    income = inferred.signature.feature("monthly_income")
    assert income.kind == "number" and income.nullable and income.minimum == 0
    assert inferred.signature.feature("region").categories == ("east", "north", "south")


def test_training_on_your_own_csv_serves_its_signature(tmp_path: Path) -> None:
    csv = _synthetic_credit_csv(tmp_path / "loans.csv")
    registry = ModelRegistry(tmp_path / "store")
    options = TrainOptions(quick=True, csv=str(csv), target="outcome", bad_value="defaulted")
    result = run_training(scenario="credit", options=options, registry=registry, quiet=True)
    assert [v.name for v in result.versions] == ["credit-challenger", "credit"]
    loaded = registry.load("credit")
    assert loaded.metadata["training_data"]["dataset"] == "csv:loans.csv"
    assert set(loaded.metadata["training_data"]["dropped_columns"]) == {"customer_id", "application_date", "product"}
    assert loaded.metadata["metrics"]["roc_auc"] > 0.6
    scorecard = scorecard_from_model(loaded=loaded)
    outcome = scorecard.score_one({"monthly_income": 500.0, "existing_debt": 2500.5, "region": "south"})
    assert outcome["decision"] in {"approve", "review", "decline"}
    safer = scorecard.score_one({"monthly_income": 5000.0, "existing_debt": 10.0, "region": "north"})
    assert safer["probability_of_default"] < outcome["probability_of_default"]
    schema = applicant_schema(scorecard.signature)
    assert set(schema.model_json_schema()["properties"]) == {"monthly_income", "existing_debt", "region"}


@pytest.mark.parametrize(
    ("target", "bad_value", "message"),
    [(None, "x", "--target"), ("nope", "x", "not in"), ("outcome", None, "--bad-value"),
     ("outcome", "unknown-value", "both need at least 20")],
)
def test_unusable_csv_options_are_refused_with_a_clear_message(
    tmp_path: Path, target: str | None, bad_value: str | None, message: str
) -> None:
    csv = _synthetic_credit_csv(tmp_path / "loans.csv", rows=200)
    with pytest.raises(ValueError, match=message):
        credit_csv_load(path=csv, target=target, bad_value=bad_value)
