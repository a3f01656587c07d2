"""A model trained on another dataset is served with no code change: schema, validation and form follow it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from flask.testing import FlaskClient

from common.registry import ModelRegistry
from common.training import TrainOptions, run_training


def test_promoting_a_model_of_another_dataset_changes_api_and_form(
    client: FlaskClient, credit_registry: ModelRegistry, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    rows = 600
    frame = pd.DataFrame({"loan_id": np.arange(rows), "salary": rng.normal(3000, 800, rows).round(),
                          "purpose": rng.choice(["car", "home", "study"], rows)})
    frame["default"] = (rng.random(rows) < 1 / (1 + np.exp((frame["salary"] - 2800) / 500))).astype(int)
    frame.to_csv(tmp_path / "other.csv", index=False)
    assert client.get("/api/v1/model").get_json()["version"] == "1"

    run_training(scenario="credit", options=TrainOptions(quick=True, csv=str(tmp_path / "other.csv"), target="default"),
                 registry=credit_registry, quiet=True)

    card = client.get("/api/v1/model").get_json()
    assert card["version"] == "2" and card["training_data"]["dataset"] == "csv:other.csv"
    schema = client.get("/openapi.json").get_json()["paths"]["/api/v1/score"]["post"]["requestBody"]
    assert set(schema["content"]["application/json"]["schema"]["properties"]) == {"salary", "purpose"}
    scored = client.post("/api/v1/score", json={"salary": 2500, "purpose": "car"})
    assert scored.status_code == 200 and scored.get_json()["model"]["version"] == "2"
    refused = client.post("/api/v1/score", json={"salary": 2500, "purpose": "boat", "Age": 30})
    assert {e["field"] for e in refused.get_json()["errors"]} == {"purpose", "Age"}
    html = client.get("/").get_data(as_text=True)
    assert 'name="salary"' in html and 'name="Income"' not in html
