"""Every error is problem+json on the API (never an HTML page, never a bare 500)."""

from __future__ import annotations

import logging

import pytest

from common.problems import PROBLEM_CONTENT_TYPE


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_CONTENT_TYPE
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    return body


def test_unknown_api_path_is_404_problem(client) -> None:
    body = assert_problem(client.get("/api/v1/nope", headers={"Accept": "text/html"}), 404)
    assert "not found" in body["detail"].lower()


def test_unknown_id_is_404_problem_with_detail(client) -> None:
    assert assert_problem(client.get("/api/v1/items/99"), 404)["detail"] == "no item 99"


def test_wrong_method_is_405_with_allow_header(client) -> None:
    response = client.delete("/api/v1/scores/batch")
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_oversized_body_is_413_problem(monkeypatch: pytest.MonkeyPatch, make_app) -> None:
    from common.settings import get_settings

    monkeypatch.setenv("MLAPPS_MAX_REQUEST_BYTES", "1000")
    get_settings.cache_clear()
    client = make_app().test_client()
    rows = [{"income": 1000.0, "age": 30}] * 100
    body = assert_problem(client.post("/api/v1/scores/batch", json=rows), 413)
    assert "1000" in body["detail"]
    # A body under the limit still goes through.
    assert client.post("/api/v1/scores/batch", json=rows[:5]).status_code == 201


def test_validation_names_every_bad_field(client) -> None:
    rows = [{"income": -5, "age": 12}, {"income": 10, "age": 30}, {"age": "old"}]
    body = assert_problem(client.post("/api/v1/scores/batch", json=rows), 422)
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"0.income", "0.age", "2.income", "2.age"}
    assert body["detail"] == "4 fields are invalid"


def test_malformed_json_is_400(client) -> None:
    response = client.post("/api/v1/scores/batch", data='[{"income": 1,', content_type="application/json")
    assert "malformed JSON" in assert_problem(response, 400)["detail"]


@pytest.mark.parametrize("payload", ["", "NaN", "[1, Infinity]"])
def test_empty_or_non_standard_json_is_400(client, payload: str) -> None:
    assert_problem(client.post("/api/v1/scores/batch", data=payload, content_type="application/json"), 400)


def test_non_json_body_is_415(client) -> None:
    response = client.post("/api/v1/scores/batch", data="income=5", content_type="application/x-www-form-urlencoded")
    assert "application/json" in assert_problem(response, 415)["detail"]


def test_bad_query_values_are_422(client) -> None:
    body = assert_problem(client.get("/api/v1/items?page=0&page_size=100000"), 422)
    assert {e["field"] for e in body["errors"]} == {"page", "page_size"}
    assert any("200" in e["message"] for e in body["errors"])


def test_bad_path_value_is_404_not_500(client) -> None:
    assert_problem(client.get("/api/v1/items/abc"), 404)
    # larger than any SQL BIGINT: a 404 before the database driver could overflow
    assert_problem(client.get(f"/api/v1/items/{2**63}"), 404)
    assert_problem(client.get("/api/v1/items/99999999999999999999999999"), 404)


def test_unexpected_exception_is_logged_500_problem(client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="mlapps_flask"):
        response = client.get("/api/v1/boom", headers={"X-Request-ID": "req-123"})
    body = assert_problem(response, 500)
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert body["request_id"] == "req-123"
    assert any("req-123" in record.getMessage() for record in caplog.records)
    assert any(record.exc_info and "secret internal detail" in str(record.exc_info[1]) for record in caplog.records)


def test_pydantic_error_in_a_view_is_422_problem(client) -> None:
    body = assert_problem(client.get("/api/v1/bad-output"), 422)
    assert {e["field"] for e in body["errors"]} == {"probability", "model"}


def test_browser_gets_html_error_page_outside_the_api(client) -> None:
    response = client.get("/no-such-page", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "404" in page and "Not Found" in page and "Toy scoring" in page


def test_json_client_gets_problem_outside_the_api(client) -> None:
    assert_problem(client.get("/no-such-page", headers={"Accept": "application/json"}), 404)
