"""The credit models for tests: trained once per test session (quick), copied into a test's own store."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

from common.registry import ModelRegistry
from common.training import TrainOptions, TrainResult, run_training

_TRAINED: tuple[Path, TrainResult] | None = None

GOOD_APPLICANT: dict[str, Any] = {
    "Seniority": 9, "Home": "rent", "Time": 60, "Age": 30, "Marital": "married", "Records": "no",
    "Job": "freelance", "Expenses": 73, "Income": 129, "Assets": 0, "Debt": 0, "Amount": 800, "Price": 846,
}


def credit_trained(*, root: Path) -> tuple[Path, TrainResult]:
    """(store folder, training result) of the one quick credit training of this test session."""
    global _TRAINED
    if _TRAINED is None:
        registry = ModelRegistry(root / "credit-store")
        result = run_training(scenario="credit", options=TrainOptions(quick=True), registry=registry, quiet=True)
        _TRAINED = (registry.root, result)
    return _TRAINED


def credit_install(*, trained_root: Path, store: Path) -> ModelRegistry:
    """Copy the trained champion and challenger into `store` (a test's own model store)."""
    for name in ("credit", "credit-challenger"):
        shutil.copytree(trained_root / name, store / name, dirs_exist_ok=True)
    return ModelRegistry(store)


def applicant_records(frame: Any) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-like dicts: ints stay ints, NaN becomes None."""
    records = []
    for row in frame.to_dict("records"):
        clean = {}
        for key, value in row.items():
            if isinstance(value, float) and math.isnan(value):
                clean[key] = None
            elif hasattr(value, "item"):
                clean[key] = value.item()
            else:
                clean[key] = value
        records.append(clean)
    return records


POSTGRES_URL = __import__("os").environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_database_url() -> Any:
    """Context manager: a new, empty PostgreSQL database for one test (dropped afterwards); yields its URL."""
    import contextlib
    import urllib.parse
    import uuid

    import psycopg
    from psycopg import sql

    @contextlib.contextmanager
    def manager() -> Any:
        name = f"credit_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        parsed = urllib.parse.urlsplit(POSTGRES_URL)
        try:
            yield urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, f"/{name}", parsed.query, ""))
        finally:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    return manager()
