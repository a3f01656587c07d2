"""Django tests of the recommender: settings, a MovieLens slice in the test database, one trained model.

DJANGO_SETTINGS_MODULE is set here (not for the whole suite): the other apps' tests run
without Django settings.  The database is SQLite (a WAL file) unless DATABASE_URL points
elsewhere; `test_postgres.py` reruns the database-heavy modules against PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender_django.settings.test")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402

from common.settings import Settings, get_settings  # noqa: E402
from tests.recommender_django.helpers import (  # noqa: E402
    movielens_slice,
    postgres_reachable,
    postgres_url,
    slice_load,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL rerun needs a server: without one it is deselected (and reported), not skipped."""
    wanted = [item for item in items if item.get_closest_marker("postgres") and "recommender_django" in str(item.path)]
    if not wanted or postgres_reachable():
        return
    config.hook.pytest_deselected(items=wanted)
    items[:] = [item for item in items if item not in wanted]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"no PostgreSQL at {postgres_url()}: the recommender's PostgreSQL run was deselected")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Django is configured by now; the variable must not leak into other tests' subprocesses
    (`mlapps serve`, `mlapps tokens` read DJANGO_SETTINGS_MODULE)."""
    if os.environ.get("DJANGO_SETTINGS_MODULE") == "recommender_django.settings.test":
        del os.environ["DJANGO_SETTINGS_MODULE"]


def pytest_report_header(config: pytest.Config) -> str:
    from django.db import connection

    return f"recommender database: {connection.vendor}"


@pytest.fixture(scope="session")
def slice_frames() -> dict[str, pd.DataFrame]:
    return movielens_slice()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker, slice_frames: dict[str, pd.DataFrame]) -> None:  # noqa: ANN001
    """The test database, migrated, with the MovieLens slice loaded once for the session."""
    with django_db_blocker.unblock():
        slice_load(slice_frames)


@pytest.fixture(scope="session")
def trained_store(django_db_setup: None, django_db_blocker, tmp_path_factory: pytest.TempPathFactory,  # noqa: ANN001
                  slice_frames: dict[str, pd.DataFrame]) -> Path:
    """A model store holding one recommender trained (quick) on the slice in the database."""
    store = tmp_path_factory.mktemp("recommender-models")
    patch = pytest.MonkeyPatch()
    patch.setenv("MLAPPS_MODEL_STORE_DIR", str(store))
    get_settings.cache_clear()
    try:
        from recommender_django.modelops.services import recommender_train_from_database

        with django_db_blocker.unblock():
            slice_load(slice_frames)  # a transactional test may have emptied the database
            recommender_train_from_database(algorithm="svd", quick=True, seed=0)
    finally:
        patch.undo()
        get_settings.cache_clear()
    return store


@pytest.fixture
def served(trained_store: Path, isolated_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Serve the session's trained model in this test (read-only: tests that train use their own store)."""
    monkeypatch.setenv("MLAPPS_MODEL_STORE_DIR", str(trained_store))
    get_settings.cache_clear()
    yield trained_store
    get_settings.cache_clear()


@pytest.fixture
def rater_id(db: None) -> int:
    """The database id of MovieLens rater 15 (public, many ratings)."""
    from recommender_django.movies.models import ImportedRater

    return ImportedRater.objects.get(dataset="movielens-small", movielens_user_id=15).user_id


@pytest.fixture
def member(db: None):  # noqa: ANN201
    """A signed-up user with no ratings yet."""
    return get_user_model().objects.create_user(username="viewer", password="a-long-test-password")


@pytest.fixture
def member_client(member) -> Client:  # noqa: ANN001
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def token_for(db: None):  # noqa: ANN201
    """Create an API token for a (new) user name: returns (token, user)."""
    from recommender_django.accounts.services import api_token_create

    def create(name: str) -> tuple[str, object]:
        token, _ = api_token_create(name=name)
        return token, get_user_model().objects.get(username=name)

    return create


@pytest.fixture
def chains(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the short chain did with each request it got: 'short' (answered) or 'again' (full chain)."""
    from recommender_django.handlers import ShortChain, _AnswerAgain

    taken: list[str] = []
    original = ShortChain.get_response

    def spy(self: ShortChain, request):  # noqa: ANN001, ANN202
        response = original(self, request)
        taken.append("again" if isinstance(response, _AnswerAgain) else "short")
        return response

    monkeypatch.setattr(ShortChain, "get_response", spy)
    return taken
