from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from common.auth import TokenStore
from common.registry import ModelRegistry
from common.settings import Settings
from credit_flask import create_app
from tests.credit_flask.support import credit_install, credit_trained


@pytest.fixture(scope="session")
def credit_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root, _result = credit_trained(root=tmp_path_factory.getbasetemp())
    return root


@pytest.fixture
def credit_registry(credit_store: Path, isolated_settings: Settings) -> ModelRegistry:
    return credit_install(trained_root=credit_store, store=isolated_settings.model_store_dir)


@pytest.fixture
def app(credit_registry: ModelRegistry) -> Flask:
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "CREDIT_MODEL_CHECK_INTERVAL": 0.0})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def token(app: Flask) -> str:
    return TokenStore(app.extensions["credit"].engine).token_create(name="analyst")
