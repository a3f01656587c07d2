"""Every app prepared once per session (trained with --quick, database ready, API token) and served for real.

`pool.prepared(app)` trains the app's models into a session folder; a first training run
of the app's main scenario is SIGKILLed mid-run and what it left behind is recorded
(`pool.kill_records`, checked by test_faults.py), so the preparation that follows is the
"next run succeeds" of the issue.  `pool.served(app)` is a gunicorn server
(`mlapps serve APP --prod`, 2 workers) shared by the tests that do not damage it; a
test that injects a fault works on `prepared.clone(tmp_path)` with its own server.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.reliability_env import (
    APP_NAMES, AppServer, PreparedApp, app_available, app_prepare, base_env, train_scenarios,
)

APPS = APP_NAMES
# Small limits in the shared servers, so the limit checks stay cheap.
SERVER_LIMITS = {"MLAPPS_MAX_CSV_ROWS": "50", "MLAPPS_MAX_PAGE_SIZE": "200", "MLAPPS_MAX_REQUEST_BYTES": "1048576"}


def models_of(scenario: str) -> tuple[str, ...]:
    import importlib

    from common.training import RECIPES

    return tuple(importlib.import_module(RECIPES[scenario]).RECIPE.models)


def kill_scenario(app: str) -> str:
    """The training killed mid-run for an app: its own scenario (`mlapps train APP`), else its first one."""
    import importlib.util

    from common.training import RECIPES

    if app in RECIPES and importlib.util.find_spec(RECIPES[app]) is not None:
        return app
    return train_scenarios(app)[0]


def visible_versions(store: Path) -> dict[str, list[str]]:
    """Versions a reader of the store can see (what `mlapps models list` shows), by model."""
    from common.registry import ModelRegistry

    registry = ModelRegistry(store)
    return {name: [v.version for v in registry.versions(name)] for name in registry.names()}


def train_killed_mid_run(prepared: PreparedApp, scenario: str) -> dict[str, Any]:
    """Start `mlapps train SCENARIO --quick`, SIGKILL it once it reports progress, record what is left."""
    argv = [sys.executable, "-m", "common.cli", "train", scenario, "--quick"]
    process = subprocess.Popen(
        argv, env=prepared.env, cwd=Path(__file__).resolve().parents[2], stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    assert process.stderr is not None
    for line in process.stderr:
        lines.append(line.rstrip())
        if len(lines) >= 2:  # the recipe has started working (the first line only names it)
            process.kill()
            break
    process.stderr.close()
    returncode = process.wait(timeout=30)
    listing = prepared.mlapps("models", "list").stdout
    store = prepared.model_store
    return {
        "scenario": scenario, "returncode": returncode, "killed_after": lines[-1] if lines else "",
        "visible_after_kill": visible_versions(store), "models_list_after_kill": listing,
        "hidden_leftovers": sorted(str(p.relative_to(store)) for p in store.glob("*/.*")) if store.exists() else [],
    }


class Pool:
    """Prepared apps and shared servers of the session (built lazily, in parallel threads)."""

    def __init__(self, root: Path, *, wanted: tuple[str, ...] = APPS) -> None:
        self.root = root
        self.wanted = wanted
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._prepared: dict[str, PreparedApp] = {}
        self._errors: dict[str, BaseException] = {}
        self._servers: dict[str, AppServer] = {}
        self.kill_records: dict[str, dict[str, Any]] = {}

    def _prepare(self, name: str) -> None:
        try:
            root = self.root / name
            env = base_env(root=root)
            first = kill_scenario(name)
            prepared = PreparedApp(name=name, root=root, env=env, token="")
            record = train_killed_mid_run(prepared, first)
            secrets = {key: env[key] for key in ("MLAPPS_SECRET_KEY", "DJANGO_SECRET_KEY")}
            # the next run of every scenario (the killed one included), side by side with the database set-up
            done = app_prepare(name=name, root=root, env=secrets)
            record["visible_after_rerun"] = visible_versions(done.model_store)
            record["models"] = models_of(first)
            self.kill_records[name] = record
            self._prepared[name] = done
        except BaseException as exc:  # reported to every test that asks for this app
            self._errors[name] = exc

    def start(self, names: tuple[str, ...]) -> None:
        with self._lock:
            for name in names:
                if name not in self._threads:
                    thread = threading.Thread(target=self._prepare, args=(name,), daemon=True)
                    self._threads[name] = thread
                    thread.start()

    def prepared(self, name: str) -> PreparedApp:
        # every app the selected tests need is prepared at once, in parallel, on the first request
        self.start(tuple(n for n in self.wanted if app_available(n) is None) + (name,))
        self._threads[name].join(timeout=900)
        if name in self._errors:
            raise RuntimeError(f"preparing {name} failed: {self._errors[name]}") from self._errors[name]
        return self._prepared[name]

    def served(self, name: str) -> AppServer:
        prepared = self.prepared(name)
        with self._lock:
            server = self._servers.get(name)
            if server is None or not server.running():
                server = AppServer(prepared, workers=2, env=SERVER_LIMITS)
                server.start()
                self._servers[name] = server
        server.wait_up()
        return server

    def restart(self, name: str) -> AppServer:
        """Stop the shared server of `name` and start it again (same store, same database)."""
        with self._lock:
            old = self._servers.pop(name, None)
        if old is not None:
            old.stop()
        return self.served(name)

    def close(self) -> None:
        for server in self._servers.values():
            server.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Remember which apps the selected reliability tests use (the pool prepares only those)."""
    wanted = set()
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        for value in params.values():
            if value in APPS:
                wanted.add(value)
    config.stash[WANTED_APPS] = tuple(a for a in APPS if a in wanted)


WANTED_APPS = pytest.StashKey[tuple[str, ...]]()


@pytest.fixture(scope="session")
def pool(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    pool = Pool(tmp_path_factory.mktemp("reliability"), wanted=request.config.stash.get(WANTED_APPS, APPS))
    try:
        yield pool
    finally:
        pool.close()
