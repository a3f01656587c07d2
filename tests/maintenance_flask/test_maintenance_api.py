"""REST API: predictions, ingestion, fleet, alerts, model; every error is problem+json, never a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from common.datasets.degradation_sim import simulate_fleet
from common.settings import Settings
from maintenance_flask import create_app
from tests.maintenance_flask.support import HEALTHY_READING, HEAT_FAILURE_READING, POWER_FAILURE_READING, at, telemetry


def _fields(response: Any) -> set[str]:
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    return {e["field"] for e in response.get_json()["errors"]}


# --------------------------------------------------------------------------- predictions
def test_predict_one_reading_with_explanations(client: FlaskClient) -> None:
    response = client.post("/api/v1/predict/failure", json=HEAT_FAILURE_READING)
    assert response.status_code == 200
    body = response.get_json()
    assert body["failure_probability"] > 0.5 and body["alert"] is True
    assert set(body["mode_probabilities"]) == {"tool_wear", "heat_dissipation", "power", "overstrain"}
    assert body["conditions"][0]["mode"] == "heat_dissipation" and body["conditions"][0]["status"] == "beyond"
    assert body["top_features"][0]["contribution"] > 0
    assert body["model_version"] == "maintenance-failure@1"
    assert body["physics"]["temperature_difference_k"] == pytest.approx(8.2)


def test_predict_many_readings(client: FlaskClient) -> None:
    response = client.post("/api/v1/predict/failure", json=[HEALTHY_READING, POWER_FAILURE_READING])
    assert response.status_code == 200
    predictions = response.get_json()["predictions"]
    assert [p["alert"] for p in predictions] == [False, True]
    assert "power" in predictions[1]["conditions"][0]["message"]


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"rotational_speed_rpm": -1500}, {"rotational_speed_rpm"}),
        ({"air_temperature_k": 25.0}, {"air_temperature_k"}),  # Celsius sent as kelvin
        ({"process_temperature_k": 480.0}, {"process_temperature_k"}),
        ({"product_type": "X"}, {"product_type"}),
        ({"torque_nm": -3, "tool_wear_min": -1}, {"torque_nm", "tool_wear_min"}),
        ({"torque_nm": "a lot"}, {"torque_nm"}),
        ({"air_temperature_k": 300.0, "process_temperature_k": 280.0}, {"process_temperature_k"}),
        ({"colour": "red"}, {"colour"}),
    ],
)
def test_physically_impossible_readings_are_422_naming_each_field(client: FlaskClient, change: dict,
                                                                  fields: set[str]) -> None:
    assert _fields(client.post("/api/v1/predict/failure", json={**HEALTHY_READING, **change})) == fields


def test_every_bad_field_of_a_batch_is_named_with_its_position(client: FlaskClient) -> None:
    body = [HEALTHY_READING, {**HEALTHY_READING, "rotational_speed_rpm": 0, "product_type": "Q"}]
    assert _fields(client.post("/api/v1/predict/failure", json=body)) == {"1.rotational_speed_rpm", "1.product_type"}
    assert _fields(client.post("/api/v1/predict/failure", json={"product_type": "L"})) == {
        "air_temperature_k", "process_temperature_k", "rotational_speed_rpm", "torque_nm", "tool_wear_min"}
    assert _fields(client.post("/api/v1/predict/failure", json=[])) == {"(body)"}


def test_malformed_requests_are_problems_not_500(client: FlaskClient, app: Flask) -> None:
    assert client.post("/api/v1/predict/failure", data="{", content_type="application/json").status_code == 400
    assert client.post("/api/v1/predict/failure", data="torque=3").status_code == 415
    assert client.post("/api/v1/predict/failure", data="NaN", content_type="application/json").status_code == 400
    assert client.get("/api/v1/predict/failure").status_code == 405
    app.config["MAX_CONTENT_LENGTH"] = 1000
    too_big = client.post("/api/v1/predict/failure", json=[HEALTHY_READING] * 40)
    assert too_big.status_code == 413 and too_big.mimetype == "application/problem+json"


def _engine_cycles(count: int, seed: int = 3) -> list[dict[str, Any]]:
    engine = simulate_fleet(engines=1, seed=seed)["train"]
    return [{k: v for k, v in row.items() if k != "unit"} for row in engine.head(count).to_dict("records")]


def test_predict_rul_of_an_engine_sequence(client: FlaskClient) -> None:
    engine = simulate_fleet(engines=1, seed=3)["train"]
    life = len(engine)
    cycles = [{k: v for k, v in row.items() if k != "unit"} for row in engine.to_dict("records")]
    early = client.post("/api/v1/predict/rul", json={"cycles": cycles[:60]}).get_json()
    late = client.post("/api/v1/predict/rul", json={"cycles": cycles[: life - 5]}).get_json()
    assert early["cycle"] == 60 and early["cycles_used"] == 60 and early["cap_cycles"] == 125
    assert early["remaining_useful_life_cycles"] > 80 > 30 > late["remaining_useful_life_cycles"]
    assert late["top_features"] and late["model_version"] == "maintenance-rul@1"


def test_rul_input_errors_name_the_fields(client: FlaskClient) -> None:
    cycles = _engine_cycles(5)
    broken = [dict(c) for c in cycles]
    del broken[2]["s4"]
    broken[3]["s7"] = "hot"
    assert _fields(client.post("/api/v1/predict/rul", json={"cycles": broken})) == {"cycles.2.s4", "cycles.3.s7"}
    backwards = list(reversed(cycles))
    assert _fields(client.post("/api/v1/predict/rul", json={"cycles": backwards})) == {"(body)"}
    assert _fields(client.post("/api/v1/predict/rul", json={"cycles": []})) == {"cycles"}


# --------------------------------------------------------------------------- ingestion
def test_ingest_one_reading_an_array_and_a_resend(client: FlaskClient, auth: dict) -> None:
    one = client.post("/api/v1/machines/press-7/readings", headers=auth, json=telemetry(HEALTHY_READING, at=at(0)))
    assert one.status_code == 200 and one.get_json()["stored"] == 1 and one.get_json()["status"] == "ok"
    batch = [telemetry(HEALTHY_READING, at=at(i)) for i in range(5)]
    response = client.post("/api/v1/machines/press-7/readings", headers=auth, json=batch).get_json()
    assert (response["received"], response["stored"], response["duplicates"]) == (5, 4, 1)
    again = client.post("/api/v1/machines/press-7/readings", headers=auth, json=batch).get_json()
    assert (again["stored"], again["duplicates"]) == (0, 5)
    machine = client.get("/api/v1/machines/press-7").get_json()
    assert machine["readings"] == 5 and len(machine["history"]) == 5


def test_ingest_csv_as_a_body_or_an_upload(client: FlaskClient, auth: dict) -> None:
    header = "timestamp,product_type,air_temperature_k,process_temperature_k,rotational_speed_rpm,torque_nm,tool_wear_min"
    rows = [f"{at(i).isoformat()},M,298.0,308.5,1500,40,{i}" for i in range(3)]
    csv_text = "\n".join([header, *rows]) + "\n"
    response = client.post("/api/v1/machines/lathe-1/readings", headers=auth, data=csv_text, content_type="text/csv")
    assert response.status_code == 200 and response.get_json()["stored"] == 3
    import io

    upload = client.post("/api/v1/machines/lathe-1/readings", headers=auth,
                         data={"file": (io.BytesIO(csv_text.encode()), "readings.csv")}, content_type="multipart/form-data")
    assert upload.get_json()["duplicates"] == 3
    bad = client.post("/api/v1/machines/lathe-1/readings", headers=auth, content_type="text/csv",
                      data=header + f"\n{at(9).isoformat()},M,298.0,308.5,-1500,40,0\n")
    assert _fields(bad) == {"0.rotational_speed_rpm"}
    missing = client.post("/api/v1/machines/lathe-1/readings", headers=auth, data="timestamp,torque_nm\nx,1\n",
                          content_type="text/csv")
    assert _fields(missing) == {"file"}


def test_ingest_with_engine_cycles_scores_remaining_life(client: FlaskClient, auth: dict) -> None:
    cycles = _engine_cycles(40, seed=5)
    batch = [telemetry(HEALTHY_READING, at=at(i), engine=c) for i, c in enumerate(cycles)]
    result = client.post("/api/v1/machines/turbine-2/readings", headers=auth, json=batch).get_json()
    assert result["latest_rul_cycles"] is not None and result["latest_rul_cycles"] > 60
    broken = telemetry(HEALTHY_READING, at=at(99), engine={"cycle": 41, "s2": 642.0})
    fields = _fields(client.post("/api/v1/machines/turbine-2/readings", headers=auth, json=broken))
    assert "engine.s3" in fields and "engine.s21" in fields and "engine.s2" not in fields


def test_ingest_errors(client: FlaskClient, auth: dict) -> None:
    reading = telemetry(HEALTHY_READING, at=at(0))
    assert _fields(client.post("/api/v1/machines/bad%20id/readings", headers=auth, json=reading)) == {"machine_id"}
    assert _fields(client.post("/api/v1/machines/m1/readings", headers=auth, json=HEALTHY_READING)) == {"timestamp"}
    assert _fields(client.post("/api/v1/machines/m1/readings", headers=auth,
                               json={**telemetry(HEALTHY_READING, at=at(0)), "timestamp": "yesterday"})) == {"timestamp"}
    assert client.get("/api/v1/machines/never-seen").status_code == 404


def test_ingestion_needs_a_valid_token(client: FlaskClient, auth: dict) -> None:
    reading = telemetry(HEALTHY_READING, at=at(0))
    for headers in ({}, {"Authorization": "Bearer mlapps_" + "x" * 43}, {"Authorization": "Basic abc"}):
        refused = client.post("/api/v1/machines/m1/readings", json=reading, headers=headers)
        assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
    assert client.get("/api/v1/machines").get_json()["total"] == 0  # nothing was stored
    assert client.post("/api/v1/machines/m1/readings", json=reading, headers=auth).status_code == 200


# --------------------------------------------------------------------------- fleet and alerts
def test_fleet_status_and_alert_acknowledgement(client: FlaskClient, token: str, auth: dict) -> None:
    client.post("/api/v1/machines/ok-1/readings", headers=auth, json=telemetry(HEALTHY_READING, at=at(0)))
    client.post("/api/v1/machines/bad-1/readings", headers=auth, json=[telemetry(HEALTHY_READING, at=at(0)),
                                                          telemetry(POWER_FAILURE_READING, at=at(1))])
    fleet = client.get("/api/v1/machines").get_json()
    assert fleet["total"] == 2 and [m["status"] for m in fleet["items"]] == ["critical", "ok"]
    assert client.get("/api/v1/machines?status=critical").get_json()["items"][0]["machine_id"] == "bad-1"
    alerts = client.get("/api/v1/alerts?open=true").get_json()
    assert alerts["total"] == 1
    alert = alerts["items"][0]
    assert alert["machine_id"] == "bad-1" and alert["kind"] == "failure_risk" and alert["acknowledged_at"] is None
    assert client.post(f"/api/v1/alerts/{alert['id']}/ack").status_code == 401
    assert client.post(f"/api/v1/alerts/{alert['id']}/ack", headers={"Authorization": "Bearer mlapps_wrong"}).status_code == 401
    acked = client.post(f"/api/v1/alerts/{alert['id']}/ack", headers={"Authorization": f"Bearer {token}"})
    assert acked.status_code == 200 and acked.get_json()["acknowledged_by"] == "operator-ann"
    assert client.get("/api/v1/alerts?open=true").get_json()["total"] == 0
    assert client.post("/api/v1/alerts/999/ack", headers={"Authorization": f"Bearer {token}"}).status_code == 404
    assert _fields(client.get("/api/v1/alerts?page_size=100000")) == {"page_size"}


def test_model_endpoint_describes_both_models(client: FlaskClient) -> None:
    body = client.get("/api/v1/model").get_json()
    assert body["failure"]["version"] == "1" and body["failure"]["dataset"] == "ai4i-sim"
    assert body["failure"]["data_source"].startswith("simulator")
    assert body["failure"]["metrics"]["precision"] >= 0.9
    assert body["rul"]["metrics"]["test_rmse"] > 0 and body["rul_horizon_cycles"] == 30
    assert body["alert_threshold"] == pytest.approx(body["failure"]["metrics"]["alert_threshold"])


def test_openapi_document_is_valid_and_complete(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    validate(document)
    paths = document["paths"]
    for path, method in [("/api/v1/predict/failure", "post"), ("/api/v1/predict/rul", "post"),
                         ("/api/v1/machines", "get"), ("/api/v1/machines/{machine_id}", "get"),
                         ("/api/v1/machines/{machine_id}/readings", "post"), ("/api/v1/alerts", "get"),
                         ("/api/v1/alerts/{alert_id}/ack", "post"), ("/api/v1/model", "get"),
                         ("/healthz", "get"), ("/readyz", "get")]:
        assert method in paths[path], path
    assert paths["/api/v1/alerts/{alert_id}/ack"]["post"]["security"] == [{"bearerAuth": []}]
    ingest = paths["/api/v1/machines/{machine_id}/readings"]["post"]["requestBody"]["content"]
    assert {"application/json", "text/csv", "multipart/form-data"} <= set(ingest)
    assert client.get("/docs").status_code == 200


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert {c["name"] for c in ready.get_json()["checks"]} == {"database", "model:maintenance-failure",
                                                               "model:maintenance-rul"}


def test_without_trained_models_the_app_answers_503_with_the_reason(isolated_settings: Settings) -> None:
    client = create_app({"TESTING": True}).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    reasons = {c["name"]: c["reason"] for c in ready.get_json()["checks"]}
    assert "mlapps train" in reasons["model:maintenance-failure"]
    for method, path, body in [("post", "/api/v1/predict/failure", HEALTHY_READING),
                               ("post", "/api/v1/predict/failure", [HEALTHY_READING, HEALTHY_READING]),
                               ("post", "/api/v1/predict/rul", {"cycles": _engine_cycles(3)})]:
        response = getattr(client, method)(path, json=body)
        assert response.status_code == 503 and "model unavailable" in response.get_json()["detail"]
    assert client.get("/api/v1/model").get_json()["failure"] is None
    assert client.get("/").status_code == 200  # the dashboard still shows the (empty) fleet


def test_sample_request_files_work(client: FlaskClient, auth: dict) -> None:
    samples = Path(__file__).resolve().parents[2] / "datasets" / "maintenance"
    one = client.post("/api/v1/predict/failure", json=json.loads((samples / "reading.json").read_text())).get_json()
    assert one["conditions"][0]["message"] == "power 3,621 W, near the 3,500 W lower limit"
    many = client.post("/api/v1/predict/failure", json=json.loads((samples / "readings.json").read_text())).get_json()
    assert [p["alert"] for p in many["predictions"]] == [False, True, True, False]
    rul = client.post("/api/v1/predict/rul", json=json.loads((samples / "engine_cycles.json").read_text())).get_json()
    assert rul["cycle"] == 180 and rul["remaining_useful_life_cycles"] < 45  # true RUL 20
    telemetry_json = client.post("/api/v1/machines/sample-1/readings", headers=auth,
                                 json=json.loads((samples / "telemetry.json").read_text())).get_json()
    assert telemetry_json["stored"] == 40 and telemetry_json["latest_rul_cycles"] is not None
    telemetry_csv = client.post("/api/v1/machines/sample-2/readings", headers=auth, content_type="text/csv",
                                data=(samples / "telemetry.csv").read_bytes()).get_json()
    assert telemetry_csv["stored"] == 25
    history = client.get("/api/v1/machines/sample-2").get_json()["history"]
    assert [r["engine_cycle"] is None for r in history] == [False] * 20 + [True] * 5
