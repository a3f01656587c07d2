"""The sample requests in datasets/credit behave as documented; the production server and `flask init-db` work."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from common.registry import ModelRegistry
from tests.support.servers import app_process

SAMPLES = Path(__file__).resolve().parents[2] / "datasets" / "credit"


def test_sample_requests_give_the_documented_answers(client: FlaskClient) -> None:
    one = client.post("/api/v1/score", json=json.loads((SAMPLES / "applicant.json").read_text()))
    assert one.status_code == 200
    invalid = client.post("/api/v1/score", json=json.loads((SAMPLES / "applicant-invalid.json").read_text()))
    assert invalid.status_code == 422
    assert {e["field"] for e in invalid.get_json()["errors"]} == {"Seniority", "Age", "Time", "Home", "Colour"}
    batch = client.post("/api/v1/score/batch", json=json.loads((SAMPLES / "applicants.json").read_text())).get_json()
    assert (batch["scored"], batch["failed"]) == (3, 1)
    upload = {"file": (io.BytesIO((SAMPLES / "applicants.csv").read_bytes()), "applicants.csv")}
    scored = client.post("/api/v1/score/batch", data=upload, content_type="multipart/form-data")
    rows = list(csv.DictReader(io.StringIO(scored.get_data(as_text=True))))
    assert [bool(r["decision"]) for r in rows] == [True, True, True, False, True]
    assert rows[3]["applicant_id"] == "A-1004" and "Home" in rows[3]["errors"] and "Age" in rows[3]["errors"]


def test_init_db_creates_the_tables(app: Flask) -> None:
    engine = app.extensions["credit"].engine
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE credit_decisions"))
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0 and "tables ready" in result.output
    assert "credit_decisions" in sa.inspect(engine).get_table_names()


def test_gunicorn_serves_the_app_with_its_production_config(credit_registry: ModelRegistry) -> None:
    applicant = (SAMPLES / "applicant.json").read_bytes()
    with app_process("credit", prod=True, workers=1) as (base, _process):
        request = urllib.request.Request(f"{base}/api/v1/score", data=applicant, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.load(response)
        assert body["model"]["name"] == "credit" and body["decision"] in ("approve", "review", "decline")
        with urllib.request.urlopen(f"{base}/readyz", timeout=10) as response:
            assert json.load(response)["status"] == "ready"
