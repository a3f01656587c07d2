"""The maintenance models for tests: trained once per session (quick, simulators), copied into a test's store."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from common.maintenance.training import FAILURE_MODEL, RUL_MODEL
from common.registry import ModelRegistry
from common.training import TrainOptions, TrainResult, run_training

_TRAINED: tuple[Path, TrainResult] | None = None
# Small simulated datasets: the whole maintenance test area shares one ~10 s training.
TEST_TRAIN_OPTIONS = TrainOptions(quick=True, dataset="sim", seed=7, extra={"failure_rows": "4000", "rul_engines": "40"})

HEALTHY_READING: dict[str, Any] = {
    "product_type": "M", "air_temperature_k": 298.0, "process_temperature_k": 308.5,
    "rotational_speed_rpm": 1500, "torque_nm": 40.0, "tool_wear_min": 50,
}
# Power = 70 Nm x 1,300 rpm x 2 pi / 60 = 9,529 W: beyond the 9,000 W limit (power failure).
POWER_FAILURE_READING: dict[str, Any] = {**HEALTHY_READING, "rotational_speed_rpm": 1300, "torque_nm": 70.0}
# 8.2 K temperature difference at 1,330 rpm: heat-dissipation failure.
HEAT_FAILURE_READING: dict[str, Any] = {
    "product_type": "L", "air_temperature_k": 302.0, "process_temperature_k": 310.2,
    "rotational_speed_rpm": 1330, "torque_nm": 52.0, "tool_wear_min": 30,
}


def maintenance_trained(*, root: Path) -> tuple[Path, TrainResult]:
    """(store folder, training result) of the one quick maintenance training of this test session."""
    global _TRAINED
    if _TRAINED is None:
        registry = ModelRegistry(root / "maintenance-store")
        result = run_training(scenario="maintenance", options=TEST_TRAIN_OPTIONS, registry=registry, quiet=True)
        _TRAINED = (registry.root, result)
    return _TRAINED


def maintenance_install(*, trained_root: Path, store: Path) -> ModelRegistry:
    """Copy the trained models into `store` (a test's own model store)."""
    for name in (FAILURE_MODEL, RUL_MODEL):
        shutil.copytree(trained_root / name, store / name, dirs_exist_ok=True)
    return ModelRegistry(store)


def telemetry(reading: dict[str, Any], *, at: dt.datetime, engine: dict[str, Any] | None = None) -> dict[str, Any]:
    """A reading as the ingestion endpoint takes it (timestamp, optional engine cycle)."""
    body = {**reading, "timestamp": at.isoformat()}
    if engine is not None:
        body["engine"] = engine
    return body


T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)
