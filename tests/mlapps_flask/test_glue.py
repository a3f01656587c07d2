"""Smaller contracts of the glue: registration order, readiness checks, init-db, token_required."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

import mlapps_flask as mf
from common.auth import TokenStore


def test_api_blueprint_needs_init_app_first() -> None:
    api = mf.ApiBlueprint("early", __name__)

    @api.operation("GET", "/x", summary="x")
    def x() -> dict:
        return {}

    with pytest.raises(RuntimeError, match="init_app"):
        Flask(__name__).register_blueprint(api)


def test_crashing_readiness_check_means_not_ready(app, client) -> None:
    def broken() -> tuple[bool, str]:
        raise ConnectionError("cache down")

    mf.readiness_add(app, "cache", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    cache = {c["name"]: c for c in response.get_json()["checks"]}["cache"]
    assert cache == {"name": "cache", "ok": False, "reason": "check failed: ConnectionError: cache down"}


def test_init_db_command_creates_the_token_table(app, engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE api_tokens")
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert "tables ready" in result.output
    assert "api_tokens" in sa.inspect(engine).get_table_names()


def test_init_db_creates_the_apps_own_tables(tmp_path) -> None:
    metadata = sa.MetaData()
    sa.Table("machines", metadata, sa.Column("id", sa.Integer, primary_key=True))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'own.sqlite3'}")
    app = Flask(__name__)
    mf.init_app(app, title="t", version="1", description="d")
    mf.init_db(app, engine, metadata=metadata)
    assert {"machines", "api_tokens"} <= set(sa.inspect(engine).get_table_names())
    with app.app_context():
        assert mf.engine_get() is engine
    engine.dispose()


def test_token_required_protects_a_plain_view(app, engine) -> None:
    @app.get("/api/v1/plain")
    @mf.token_required
    def plain() -> dict:
        from flask import g

        return {"client": g.api_client}

    client = app.test_client()
    assert client.get("/api/v1/plain").status_code == 401
    token = TokenStore(engine).token_create(name="robot")
    assert client.get("/api/v1/plain", headers={"Authorization": f"Bearer {token}"}).get_json() == {"client": "robot"}


def test_favicon_is_served(client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
