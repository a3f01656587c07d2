from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from common.auth import TokenStore
from common.registry import ModelRegistry
from common.settings import Settings
from maintenance_flask import create_app
from tests.maintenance_flask.support import maintenance_install, maintenance_trained


@pytest.fixture(scope="session")
def maintenance_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root, _result = maintenance_trained(root=tmp_path_factory.getbasetemp())
    return root


@pytest.fixture
def maintenance_registry(maintenance_store: Path, isolated_settings: Settings) -> ModelRegistry:
    return maintenance_install(trained_root=maintenance_store, store=isolated_settings.model_store_dir)


@pytest.fixture
def app(maintenance_registry: ModelRegistry) -> Flask:
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "MAINTENANCE_MODEL_CHECK_INTERVAL": 0.0})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def token(app: Flask) -> str:
    return TokenStore(app.extensions["maintenance"].engine).token_create(name="operator-ann")


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    """Headers of an authenticated API call (ingestion and acknowledgement need a token)."""
    return {"Authorization": f"Bearer {token}"}
