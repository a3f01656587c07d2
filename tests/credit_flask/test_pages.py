"""The server-rendered pages: form generated from the signature, result, batch upload, model card, monitoring."""

from __future__ import annotations

import csv
import io
import re

from flask.testing import FlaskClient

from credit_flask import create_app
from tests.credit_flask.support import GOOD_APPLICANT


def _form(values: dict) -> dict[str, str]:
    return {k: "" if v is None else str(v) for k, v in values.items()}


def test_form_has_a_widget_for_every_input(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    for name in GOOD_APPLICANT:
        assert f'name="{name}"' in html
    assert re.search(r'<select[^>]*name="Home"', html)
    assert re.search(r'<input[^>]*name="Age"[^>]*type="number"[^>]*min="18"[^>]*max="100"', html.replace("\n", " "))
    assert ">Unknown</option>" in html  # optional categories can be left unknown
    assert "Monthly income" in html


def test_submitting_the_form_shows_decision_score_grade_and_reasons(client: FlaskClient) -> None:
    response = client.post("/", data=_form(GOOD_APPLICANT))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    api = client.post("/api/v1/score", json=GOOD_APPLICANT).get_json()
    assert f'id="score">{api["score"]}<' in html
    assert f'id="grade">{api["grade"]}<' in html
    assert f'id="decision">{api["decision"].capitalize()}<' in html
    assert api["reasons"][0]["text"].replace("\u201c", "&#8220;") in html or api["reasons"][0]["text"] in html
    assert "Decision #1" in html


def test_form_errors_are_shown_next_to_the_fields(client: FlaskClient) -> None:
    response = client.post("/", data=_form({**GOOD_APPLICANT, "Age": "abc", "Seniority": ""}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Please correct 1 field" in html and "Age: Input should be a valid integer" in html
    range_error = client.post("/", data=_form({**GOOD_APPLICANT, "Age": "7", "Seniority": ""}))
    text = range_error.get_data(as_text=True)
    assert range_error.status_code == 422 and "Please correct 2 fields" in text
    assert 'value="7"' in text  # what the user typed is kept


def test_forms_are_csrf_protected(credit_registry) -> None:  # noqa: ANN001
    app = create_app({"TESTING": True})
    client = app.test_client()
    assert client.post("/", data=_form(GOOD_APPLICANT)).status_code == 400
    html = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post("/", data={**_form(GOOD_APPLICANT), "csrf_token": token}).status_code == 200


def test_batch_upload_downloads_the_scored_file(client: FlaskClient) -> None:
    sample = client.get("/batch/sample.csv")
    assert sample.status_code == 200
    upload = {"file": (io.BytesIO(sample.data), "mine.csv")}
    response = client.post("/batch", data=upload, content_type="multipart/form-data")
    assert response.status_code == 200
    assert 'filename="mine-scored.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 3 and all(r["decision"] for r in rows)
    assert "Batch" in client.get("/batch").get_data(as_text=True)


def test_batch_upload_of_an_unusable_file_explains_why(client: FlaskClient) -> None:
    response = client.post("/batch", data={"file": (io.BytesIO(b""), "empty.csv")}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "The file cannot be used: the file is empty" in response.get_data(as_text=True)


def test_model_card_page_has_roc_distributions_and_calibration(client: FlaskClient) -> None:
    html = client.get("/model").get_data(as_text=True)
    assert html.count("<svg") == 3
    assert "ROC curve on held-out folds" in html and "Score distribution of good and bad" in html
    assert "Calibration on held-out folds" in html
    assert "Gradient boosting (challenger)" in html
    assert 'id="grades"' in html and "Loan-to-price ratio" in html


def test_monitoring_page_shows_psi_once_there_are_decisions(client: FlaskClient) -> None:
    assert "Score some applicants first" in client.get("/monitoring").get_data(as_text=True)
    client.post("/api/v1/score/batch", json=[{**GOOD_APPLICANT, "Income": 100 + i} for i in range(50)])
    html = client.get("/monitoring?window=100").get_data(as_text=True)
    assert "Score PSI:" in html and "<svg" in html
    assert 'id="psi-characteristics"' in html and "Monthly income" in html


def test_security_headers_and_local_assets(client: FlaskClient) -> None:
    response = client.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    assert "<script>" not in html and "https://" not in html
    assert client.get("/credit-static/credit.css").status_code == 200
