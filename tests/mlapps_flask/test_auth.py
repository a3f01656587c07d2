"""Bearer-token auth: 401 with WWW-Authenticate, 200 with a live token from TokenStore."""

from __future__ import annotations

import pytest

from common.auth import TokenStore

from .conftest import toy_model_save

APPLICANT = {"income": 2.5, "age": 35}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer mlapps_not-a-real-token", "Bearer", "Basic dXNlcjpwYXNz", "Bearer x y"],
)
def test_missing_or_wrong_token_is_401(client, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.post("/api/v1/scores", json=APPLICANT, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["status"] == 401


def test_live_token_is_accepted(client, token: str, registry) -> None:
    toy_model_save(registry)
    response = client.post("/api/v1/scores", json=APPLICANT, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert 0.0 <= body["probability"] <= 1.0 and body["model"] == "toy@1"


def test_revoked_token_is_401(client, token: str, engine) -> None:
    TokenStore(engine).token_revoke(name="tester")
    response = client.post("/api/v1/scores", json=APPLICANT, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "revoked" in response.get_json()["detail"]


def test_auth_is_checked_before_the_body(client) -> None:
    # An anonymous caller learns nothing about the payload rules.
    assert client.post("/api/v1/scores", json={"income": "bad"}).status_code == 401
