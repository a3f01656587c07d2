"""Shared fixtures: every test runs with its own model store, cache and database folder.

The offline mirror (MLAPPS_DATA_MIRROR, set by .ci/run) is kept, downloads are
off unless a test turns them on against its own local server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from common.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("MLAPPS_MODEL_STORE_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("MLAPPS_DATA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLAPPS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MLAPPS_ALLOW_DOWNLOAD", "0")
    monkeypatch.setenv("MLAPPS_MODE", "test")
    for name in ("DATABASE_URL", "MLAPPS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The offline mirror of the real datasets (CI sets it; a developer points it at ../shared/datasets)."""
    settings = Settings()
    if settings.data_mirror_dir is None or not settings.data_mirror_dir.exists():
        candidate = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
        if candidate.exists():
            return candidate
        pytest.fail("set MLAPPS_DATA_MIRROR to the offline dataset mirror (../shared/datasets)")
    return settings.data_mirror_dir


@pytest.fixture(scope="session")
def browser():
    """A headless Debian chromium driven by Playwright, shared by the browser tests."""
    from tests.support.browser import chromium

    with chromium() as instance:
        yield instance


@pytest.fixture
def page(browser):
    """A fresh browser page whose console errors and failed asset requests are checked at the end."""
    from tests.support.browser import PageProblems

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = PageProblems()
    problems.attach(page)
    page.problems = problems
    yield page
    context.close()
    problems.assert_clean()
