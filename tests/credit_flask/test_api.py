"""The REST API: scoring, batch JSON and CSV, model card, decision log, monitoring, and every error class."""

from __future__ import annotations

import csv
import io
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from common.credit.decisions import decisions_count
from common.settings import get_settings
from credit_flask import create_app
from tests.credit_flask.support import GOOD_APPLICANT


def test_scoring_one_applicant_returns_a_decision_and_logs_it(client: FlaskClient, app: Flask) -> None:
    response = client.post("/api/v1/score", json=GOOD_APPLICANT, headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    body = response.get_json()
    assert 0 < body["probability_of_default"] < 1
    assert body["grade"] in "ABCDE" and body["decision"] in ("approve", "review", "decline")
    assert 300 < body["score"] < 900
    assert 1 <= len(body["reasons"]) <= 4 and all(r["text"] for r in body["reasons"])
    assert body["model"] == {"name": "credit", "version": "1"}
    assert body["request_id"] == "abc-123" and body["decision_id"] == 1
    assert decisions_count(engine=app.extensions["credit"].engine) == 1


def test_every_bad_field_is_named_in_one_422(client: FlaskClient) -> None:
    payload = {k: v for k, v in GOOD_APPLICANT.items() if k != "Seniority"}
    payload.update(Age="thirty", Time=500, Home="castle", Colour="blue")
    response = client.post("/api/v1/score", json=payload)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = {e["field"]: e["message"] for e in response.get_json()["errors"]}
    assert set(errors) == {"Seniority", "Age", "Time", "Home", "Colour"}
    assert errors["Seniority"] == "Field required"
    assert "integer" in errors["Age"]
    assert "less than or equal to 120" in errors["Time"]
    assert "'owner'" in errors["Home"]


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [({"data": "{not json", "content_type": "application/json"}, 400),
     ({"data": "Age=30", "content_type": "application/x-www-form-urlencoded"}, 415),
     ({"json": [GOOD_APPLICANT]}, 422),
     ({"json": "just a string"}, 422)],
)
def test_malformed_requests_get_problem_details(client: FlaskClient, kwargs: dict, status: int) -> None:
    response = client.post("/api/v1/score", **kwargs)
    assert response.status_code == status
    assert response.get_json()["status"] == status


def test_oversized_body_is_413(client: FlaskClient) -> None:
    limit = get_settings().max_request_bytes
    response = client.post("/api/v1/score", data="x" * (limit + 1), content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["title"] == "Content Too Large"


def test_wrong_method_and_unknown_paths(client: FlaskClient, token: str) -> None:
    assert client.get("/api/v1/score").status_code == 405
    assert client.delete("/api/v1/model").status_code == 405
    huge = client.get(f"/api/v1/decisions/{10**30}", headers={"Authorization": f"Bearer {token}"})
    assert huge.status_code == 404 and huge.mimetype == "application/problem+json"  # not an integer overflow
    missing = client.get("/api/v1/decisions/999", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 404 and "999" in missing.get_json()["detail"]


def test_no_model_means_503_and_not_ready(isolated_settings) -> None:  # noqa: ANN001
    app = create_app({"TESTING": True})
    client = app.test_client()
    response = client.post("/api/v1/score", json=GOOD_APPLICANT)
    assert response.status_code == 503
    assert "train it with `mlapps train`" in response.get_json()["detail"]
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 503


def test_ready_when_model_and_database_are(client: FlaskClient) -> None:
    body = client.get("/readyz").get_json()
    assert body["status"] == "ready"
    assert {c["name"] for c in body["checks"]} >= {"database", "model:credit"}


def test_batch_json_scores_good_rows_and_reports_bad_ones(client: FlaskClient, app: Flask) -> None:
    rows = [GOOD_APPLICANT, {**GOOD_APPLICANT, "Age": 5}, {**GOOD_APPLICANT, "Home": 3, "Job": "astronaut"},
            {**GOOD_APPLICANT, "Income": None}]
    response = client.post("/api/v1/score/batch", json=rows)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["scored"], body["failed"]) == (2, 2)
    results = body["results"]
    assert results[0]["result"]["decision"] in ("approve", "review", "decline")
    assert results[1]["errors"] == [{"field": "Age", "message": "Input should be greater than or equal to 18"}]
    assert {e["field"] for e in results[2]["errors"]} == {"Home", "Job"}
    assert results[3]["result"] is not None
    single = client.post("/api/v1/score", json=GOOD_APPLICANT).get_json()
    assert results[0]["result"]["score"] == single["score"]
    assert decisions_count(engine=app.extensions["credit"].engine) == 3


def test_batch_json_must_be_an_array_of_objects(client: FlaskClient) -> None:
    response = client.post("/api/v1/score/batch", json={"rows": []})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "(body)"


def test_batch_csv_in_csv_out_with_errors_per_row(client: FlaskClient) -> None:
    header = "applicant_id," + ",".join(GOOD_APPLICANT)
    good = "A1," + ",".join(str(v) for v in GOOD_APPLICANT.values())
    bad = "A2," + ",".join(str(v) for v in {**GOOD_APPLICANT, "Age": "old", "Records": ""}.values())
    blank_income = "A3," + ",".join("" if k == "Income" else str(v) for k, v in GOOD_APPLICANT.items())
    data = {"file": (io.BytesIO(f"{header}\n{good}\n{bad}\n{blank_income}\n".encode()), "applicants.csv")}
    response = client.post("/api/v1/score/batch", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["X-Rows-Failed"] == "1"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["applicant_id"] for r in rows] == ["A1", "A2", "A3"]
    assert rows[0]["decision"] in ("approve", "review", "decline") and rows[0]["errors"] == ""
    assert rows[0]["score"].isdigit() and rows[0]["reason_1_text"]
    assert rows[1]["decision"] == "" and "Age: Input should be a valid number" in rows[1]["errors"]
    assert "Records: Field required" in rows[1]["errors"]
    assert rows[2]["grade"] in "ABCDE"


def test_batch_csv_as_a_text_body_and_an_unusable_file(client: FlaskClient) -> None:
    text = ",".join(GOOD_APPLICANT) + "\n" + ",".join(str(v) for v in GOOD_APPLICANT.values()) + "\n"
    response = client.post("/api/v1/score/batch", data=text, content_type="text/csv")
    assert response.status_code == 200 and "probability_of_default" in response.get_data(as_text=True)
    broken = client.post("/api/v1/score/batch", data=b"\xff\xfe\x00", content_type="text/csv")
    assert broken.status_code == 422
    assert broken.get_json()["errors"][0]["field"] == "file"


def test_model_card_describes_the_served_model(client: FlaskClient) -> None:
    card = client.get("/api/v1/model").get_json()
    assert card["name"] == "credit" and card["version"] == "1"
    assert card["metrics"]["roc_auc"] > 0.8
    assert card["challenger"]["name"] == "credit-challenger"
    assert card["training_data"]["dataset"] == "credit-data"
    assert [f["name"] for f in card["signature"]["features"]] == list(GOOD_APPLICANT)
    assert [g["grade"] for g in card["grades"]] == ["A", "B", "C", "D", "E"]
    assert card["policy"]["base_points"] == 600


def test_decision_log_needs_a_token_and_pages(client: FlaskClient, token: str) -> None:
    for income in (60, 120, 240):
        client.post("/api/v1/score", json={**GOOD_APPLICANT, "Income": income})
    assert client.get("/api/v1/decisions").status_code == 401
    assert client.get("/api/v1/decisions", headers={"Authorization": "Bearer mlapps_wrong"}).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    page = client.get("/api/v1/decisions?page=1&page_size=2", headers=auth).get_json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert page["items"][0]["inputs"]["Income"] == 240
    second = client.get("/api/v1/decisions?page=2&page_size=2", headers=auth).get_json()
    assert [i["inputs"]["Income"] for i in second["items"]] == [60]
    one = client.get(f"/api/v1/decisions/{page['items'][0]['id']}", headers=auth).get_json()
    assert one["reasons"] == page["items"][0]["reasons"]
    bad = client.get("/api/v1/decisions?page=0&page_size=100000", headers=auth)
    assert bad.status_code == 422 and {e["field"] for e in bad.get_json()["errors"]} == {"page", "page_size"}


def test_psi_compares_recent_decisions_with_the_training_sample(client: FlaskClient) -> None:
    early = client.get("/api/v1/monitoring/psi").get_json()
    assert early["status"] == "insufficient data"
    rows = [{**GOOD_APPLICANT, "Income": 900 + i, "Records": "yes"} for i in range(40)]
    client.post("/api/v1/score/batch", json=rows)
    report = client.get("/api/v1/monitoring/psi?window=500").get_json()
    assert report["status"] == "ok" and report["recent_rows"] == 40
    by_name = {c["name"]: c for c in report["characteristics"]}
    assert by_name["Records"]["verdict"] == "significant shift"
    assert report["score"]["verdict"] in ("stable", "moderate shift", "significant shift")
    assert client.get("/api/v1/monitoring/psi?window=5").status_code == 422


def test_openapi_documents_the_served_signature(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    operation = document["paths"]["/api/v1/score"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["Home"]["anyOf"][0]["enum"] == ["ignore", "other", "owner", "parents", "priv", "rent"]
    assert "Seniority" in schema["required"] and "Income" not in schema["required"]
    assert {"422", "413", "503"} <= set(operation["responses"])
    batch = document["paths"]["/api/v1/score/batch"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data", "text/csv"} <= set(batch)
    assert document["paths"]["/api/v1/decisions"]["get"]["security"] == [{"bearerAuth": []}]
    assert client.get("/docs").status_code == 200
    json.dumps(document)  # serialisable as a whole


def test_batch_rows_with_objects_where_values_belong_are_errors_not_crashes(client: FlaskClient) -> None:
    rows = [{**GOOD_APPLICANT, "Job": {}, "Age": [30]}, {**GOOD_APPLICANT, "Home": 7, "Income": "129"}, GOOD_APPLICANT]
    body = client.post("/api/v1/score/batch", json=rows).get_json()
    assert (body["scored"], body["failed"]) == (1, 2)
    assert {e["field"]: e["message"] for e in body["results"][0]["errors"]} == {
        "Job": "Input should be a valid string", "Age": "Input should be a valid number"}
    # batch cells are read leniently like CSV text: "129" is a number, 7 is not a housing category
    assert body["results"][1]["errors"] == [{"field": "Home", "message": "Input should be a valid string"}]
