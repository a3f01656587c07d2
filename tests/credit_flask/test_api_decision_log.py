"""What scoring leaves behind: exactly one decision row per answer, and tokens that stop working when revoked."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from common.auth import TokenStore
from common.credit.decisions import decision_get, decisions_count
from common.db import engine_create
from tests.credit_flask.support import GOOD_APPLICANT

UNKNOWN_JOB_AND_INCOME = {k: v for k, v in GOOD_APPLICANT.items() if k not in ("Job", "Income")}


@pytest.mark.parametrize("applicant", [GOOD_APPLICANT, UNKNOWN_JOB_AND_INCOME,
                                       dict(reversed(list(GOOD_APPLICANT.items())))],
                         ids=["complete", "optional-inputs-left-out", "keys-in-another-order"])
def test_each_answer_is_logged_once_exactly_as_answered(client: FlaskClient, app: Flask, applicant: dict) -> None:
    engine = app.extensions["credit"].engine
    answers = [client.post("/api/v1/score", json=applicant, headers={"X-Request-ID": f"req-{i}"}).get_json()
               for i in range(3)]
    assert decisions_count(engine=engine) == 3
    assert [a["decision_id"] for a in answers] == [1, 2, 3]
    for index, answer in enumerate(answers):
        stored = decision_get(engine=engine, decision_id=answer["decision_id"])
        assert stored is not None
        assert stored["request_id"] == f"req-{index}" and stored["channel"] == "api"
        assert stored["inputs"] == {name: applicant.get(name) for name in GOOD_APPLICANT}
        for field in ("probability_of_default", "score", "grade", "decision", "reasons", "model"):
            assert stored[field] == answer[field], field


def test_the_answer_is_the_scorecards_result(client: FlaskClient, app: Flask) -> None:
    _loaded, scorecard = app.extensions["credit"].served()
    expected = scorecard.score_one(UNKNOWN_JOB_AND_INCOME)
    answer = client.post("/api/v1/score", json=UNKNOWN_JOB_AND_INCOME).get_json()
    assert list(answer) == ["decision_id", "request_id", "probability_of_default", "score", "grade", "decision",
                            "reasons", "model"]
    assert {k: answer[k] for k in expected} == expected


def test_a_revoked_token_is_refused_on_the_next_request(client: FlaskClient, app: Flask, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    other = TokenStore(app.extensions["credit"].engine).token_create(name="auditor")
    assert client.get("/api/v1/decisions", headers=auth).status_code == 200
    # Revoked through another engine, as `mlapps tokens revoke` does from its own process.
    cli_engine = engine_create(url=str(app.extensions["credit"].engine.url))
    try:
        assert TokenStore(cli_engine).token_revoke(name="analyst") == 1
    finally:
        cli_engine.dispose()
    refused = client.get("/api/v1/decisions", headers=auth)
    assert refused.status_code == 401 and "revoked" in refused.get_json()["detail"]
    assert client.get("/api/v1/decisions", headers={"Authorization": f"Bearer {other}"}).status_code == 200
