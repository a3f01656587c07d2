from __future__ import annotations

from pathlib import Path

import pytest

from common.registry import LoadedModel, ModelRegistry
from tests.maintenance_flask.support import maintenance_trained


@pytest.fixture(scope="session")
def maintenance_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root, _result = maintenance_trained(root=tmp_path_factory.getbasetemp())
    return root


@pytest.fixture(scope="session")
def failure_loaded(maintenance_store: Path) -> LoadedModel:
    return ModelRegistry(maintenance_store).load("maintenance-failure")


@pytest.fixture(scope="session")
def rul_loaded(maintenance_store: Path) -> LoadedModel:
    return ModelRegistry(maintenance_store).load("maintenance-rul")
