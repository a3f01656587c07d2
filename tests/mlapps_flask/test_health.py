"""/healthz, /readyz with model and database checks, 503 when the model or the database is missing."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from .conftest import toy_model_save

APPLICANT = {"income": 2.5, "age": 35}


def test_healthz_is_ok(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_is_503_until_a_model_is_saved(client, registry) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = {check["name"]: check for check in response.get_json()["checks"]}
    assert checks["database"]["ok"] is True
    assert checks["model:toy"]["ok"] is False and "toy" in checks["model:toy"]["reason"]

    toy_model_save(registry)
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert {c["name"]: c["reason"] for c in body["checks"]}["model:toy"] == "toy@1 loaded"


def test_prediction_without_model_is_503_problem(client, token: str) -> None:
    response = client.post("/api/v1/scores", json=APPLICANT, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.get_json()["detail"].startswith("model unavailable: ")


def test_database_down_is_503_not_500(make_app, tmp_path: Path) -> None:
    # A SQLite file inside a directory that does not exist cannot be opened (even by root).
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'nested' / 'db.sqlite3'}")
    client = make_app(engine=engine).test_client()  # the app still starts

    response = client.post("/api/v1/scores", json=APPLICANT, headers={"Authorization": "Bearer mlapps_abc"})
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "database unavailable"

    ready = client.get("/readyz")
    assert ready.status_code == 503
    database = {c["name"]: c for c in ready.get_json()["checks"]}["database"]
    assert database["ok"] is False and "database unavailable" in database["reason"]
    assert client.get("/healthz").status_code == 200


def test_database_coming_back_creates_the_token_table(make_app, tmp_path: Path) -> None:
    folder = tmp_path / "later"
    engine = sa.create_engine(f"sqlite:///{folder / 'db.sqlite3'}")
    client = make_app(engine=engine).test_client()
    assert client.post("/api/v1/scores", json=APPLICANT, headers={"Authorization": "Bearer mlapps_x"}).status_code == 503
    folder.mkdir()
    response = client.post("/api/v1/scores", json=APPLICANT, headers={"Authorization": "Bearer mlapps_x"})
    assert response.status_code == 401  # reachable now: the token is simply unknown
