"""The database-heavy tests again, on PostgreSQL (TEST_POSTGRES_URL; the CI machine has one).

Run in a subprocess because Django settings are fixed per process: this run is the same
code against another backend (upserts, sequences after explicit ids, concurrent writers).
When no PostgreSQL server answers, conftest.py deselects this test and says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.recommender_django.helpers import postgres_url

REPO = Path(__file__).resolve().parents[2]
MODULES = ["test_api.py", "test_commands.py", "test_concurrency.py", "test_serving.py", "test_recommendation_cache.py"]


@pytest.mark.postgres
def test_the_database_tests_pass_on_postgresql() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLAPPS_") or k.startswith("MLAPPS_DATA_MIRROR")}
    env.update(DATABASE_URL=postgres_url(), DJANGO_SETTINGS_MODULE="recommender_django.settings.test")
    argv = [sys.executable, "-m", "pytest", "-x", "-p", "no:cacheprovider", "-m", "not browser and not postgres",
            *(str(Path(__file__).parent / m) for m in MODULES)]
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    tail = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, tail
    assert "recommender database: postgresql" in result.stdout and " passed" in result.stdout
