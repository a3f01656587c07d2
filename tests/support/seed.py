"""The article's seed model for tests: trained once per test session (quick), copied into a test's store.

Each test has its own model store (tests/conftest.py); training takes seconds, so
it happens once and every test that needs the model gets a copy of the files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from common.registry import ModelRegistry
from common.training import TrainOptions, TrainResult, run_training

_TRAINED: tuple[Path, TrainResult] | None = None


def seed_trained(*, root: Path) -> tuple[Path, TrainResult]:
    """(store folder, training result) of the one quick seed training of this test session."""
    global _TRAINED
    if _TRAINED is None:
        registry = ModelRegistry(root / "seed-store")
        result = run_training(scenario="seed", options=TrainOptions(quick=True), registry=registry, quiet=True)
        _TRAINED = (registry.root, result)
    return _TRAINED


def seed_install(*, trained_root: Path, store: Path) -> ModelRegistry:
    """Copy the trained seed model into `store` (a test's own model store)."""
    shutil.copytree(trained_root / "seed", store / "seed", dirs_exist_ok=True)
    return ModelRegistry(store)
