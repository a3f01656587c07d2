from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from common.credit.scorecard import CompiledScorecard
from common.credit.service import scorecard_from_model
from common.datasets import load_dataset
from common.registry import LoadedModel, ModelRegistry
from tests.credit_flask.support import credit_trained


@pytest.fixture(scope="session")
def credit_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root, _result = credit_trained(root=tmp_path_factory.getbasetemp())
    return root


@pytest.fixture(scope="session")
def champion(credit_store: Path) -> LoadedModel:
    return ModelRegistry(credit_store).load("credit")


@pytest.fixture(scope="session")
def scorecard(champion: LoadedModel) -> CompiledScorecard:
    return scorecard_from_model(loaded=champion)


@pytest.fixture(scope="session")
def applicants() -> pd.DataFrame:
    return load_dataset("credit-data")["applicants"].drop(columns="Status")
