"""Faults injected into really served apps: a damaged model, promotion under load, the database
going away, training killed mid-run.  (A gunicorn worker killed under load: test_soak.py.)

The model tests work on the session's shared server and store and put the good version back;
the outage works on a copy of the prepared app with its own PostgreSQL database.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from benchmarks.reliability_env import (
    PreparedApp, Reply, artifact_corrupt, current_version, http_call, token_create, version_copy,
)
from benchmarks.soak import LoadCall, load_run
from common.apps import get_app
from common.registry import ModelRegistry
from tests.reliability.conftest import APPS
from tests.reliability.helpers import (
    TcpProxy, postgres_database, postgres_target, postgres_url, server_running, wait_steady,
)


def primary_model(app: str) -> str:
    return get_app(app).models[0]


def is_problem(reply: Reply, status: int) -> bool:
    """A JSON error answer with this status (RFC 9457 problem details)."""
    content_type = reply.header("content-type") or ""
    if reply.status != status or "json" not in content_type:
        return False
    try:
        return reply.json().get("status") == status
    except ValueError:
        return False


def check_damaged(base_url: str, prepared: PreparedApp, model: str) -> None:
    """What a damaged current model must look like from outside."""
    ready = http_call(base_url, "GET", "/readyz")
    assert ready.status == 503, ready.text
    assert "json" in (ready.header("content-type") or "")
    assert model in ready.text and ("sha256" in ready.text or "changed after it was saved" in ready.text), ready.text
    predicted = prepared.profile.predict.send(base_url, token=prepared.token)
    assert is_problem(predicted, 503), (predicted.status, predicted.text[:500])
    for path in prepared.profile.model_free_paths:
        page = http_call(base_url, "GET", path)
        assert page.status == 200, (path, page.status, page.text[:300])


# The model tests use the session's shared server of each app (a restart included) and leave
# it as they found it: the good version current, the damaged one only in history.

@pytest.mark.parametrize("app", APPS)
def test_promotion_under_load_fails_no_request(pool, app: str) -> None:
    server = pool.served(app)
    prepared = server.prepared
    model = primary_model(app)
    old = current_version(prepared, model=model)
    new = version_copy(prepared, model=model)
    promotions: list[str] = []
    threads: list[threading.Thread] = []

    def promote(version: str) -> None:
        prepared.mlapps("models", "promote", model, version)
        promotions.append(version)

    def on_tick(elapsed: float) -> None:  # promote the new version at 1 s, the old one back at 3 s
        for number, (at, version) in enumerate(((1.0, new), (3.0, old)), start=1):
            if elapsed >= at and len(threads) < number:
                threads.append(threading.Thread(target=promote, args=(version,)))
                threads[-1].start()

    report = load_run(
        server=server, calls=[LoadCall(kind="predict", call=prepared.profile.predict)], token=prepared.token,
        duration=5.0, concurrency=8, processes=2, on_tick=on_tick,
    )
    for thread in threads:
        thread.join(timeout=60)
    assert promotions == [new, old]
    assert report.requests > 0
    assert report.errors == 0, report.error_samples
    assert wait_steady(lambda: f"{model}@{old}" in http_call(server.base_url, "GET", "/readyz").text)


@pytest.mark.parametrize("app", APPS)
def test_damaged_model_gives_503_and_recovers_without_restart(pool, app: str) -> None:
    server = pool.served(app)
    prepared = server.prepared
    model = primary_model(app)
    registry = ModelRegistry(prepared.model_store)
    predict = prepared.profile.predict
    good = current_version(prepared, model=model)
    damaged = version_copy(prepared, model=model)
    artifact_corrupt(prepared, model=model, version=damaged)
    try:
        assert predict.send(server.base_url, token=prepared.token).status == 200
        registry.promote(model, damaged)  # the tampered version becomes current
        assert wait_steady(lambda: http_call(server.base_url, "GET", "/readyz").status == 503)
        check_damaged(server.base_url, prepared, model)

        # a restart with the damaged version current: the app starts, and says why it is not ready
        server = pool.restart(app)
        check_damaged(server.base_url, prepared, model)
        workers = set(server.worker_pids())
    finally:
        registry.promote(model, good)
    assert wait_steady(lambda: predict.send(server.base_url, token=prepared.token).status == 200)
    assert http_call(server.base_url, "GET", "/readyz").status == 200
    assert set(server.worker_pids()) == workers  # the same processes: no restart, no reload


# Preparation commands replaced by copying reference rows from the session's database: the
# outage needs the schema and something to write about, not a full MovieLens import.
OUTAGE_COPIED_TABLES = {"recommender": {"load_movielens": ("movies_movie",)}}


def outage_database_prepare(prepared: PreparedApp, *, source: PreparedApp, direct_url: str) -> None:
    """The app's own preparation commands on the new database (some replaced by a copy of their rows)."""
    import sqlalchemy as sa

    from common.db import engine_create

    replaced = OUTAGE_COPIED_TABLES.get(prepared.name, {})
    tables: list[str] = []
    for argv in get_app(prepared.name).prepare_argv():
        skipped = [command for command in replaced if command in argv]
        if skipped:
            tables += replaced[skipped[0]]
        elif not any("train_" in part for part in argv):  # the model is already in the store
            prepared.run(argv)
    if not tables:
        return
    source_engine, target_engine = source.engine(), engine_create(url=direct_url)
    try:
        with source_engine.connect() as reader, target_engine.begin() as writer:
            for name in tables:
                source_table = sa.Table(name, sa.MetaData(), autoload_with=reader)  # typed reads (bool, datetime)
                rows = [dict(row) for row in reader.execute(sa.select(source_table)).mappings()]
                writer.execute(sa.Table(name, sa.MetaData(), autoload_with=writer).insert(), rows)
    finally:
        source_engine.dispose()
        target_engine.dispose()


def outage_token(prepared: PreparedApp, *, url: str) -> str:
    """An API token (in-process for the SQLAlchemy token store: the CLI path is tested elsewhere)."""
    if get_app(prepared.name).token_backend != "sqlalchemy":
        return token_create(prepared, owner="outage")
    from common.auth import TokenStore
    from common.db import engine_create

    engine = engine_create(url=url)
    try:
        return TokenStore(engine).token_create(name="outage")
    finally:
        engine.dispose()


def outage_env(app: str, url: str) -> dict[str, str]:
    return {f"MLAPPS_{app.upper()}_DATABASE_URL": url, "DATABASE_URL": url}


@pytest.mark.postgres
@pytest.mark.parametrize("app", APPS)
def test_database_outage_gives_503_and_recovers(pool, app: str, tmp_path: Path) -> None:
    """PostgreSQL (reached through a proxy) goes away while the app serves, then comes back."""
    base = pool.prepared(app).clone(tmp_path / app)
    proxy = TcpProxy(target=postgres_target())
    proxy.start()
    try:
        with postgres_database(f"mlapps_rel_{app}") as database:
            url = postgres_url(database=database, port=proxy.port)
            prepared = PreparedApp(name=app, root=base.root, env={**base.env, **outage_env(app, url)}, token="")
            outage_database_prepare(prepared, source=base, direct_url=postgres_url(database=database))
            prepared.token = outage_token(prepared, url=postgres_url(database=database))
            write, target = prepared.profile.write, prepared.profile.write_target
            with server_running(prepared, workers=2) as server:
                first = write.send(server.base_url, token=prepared.token)
                assert first.status in (200, 201), first.text[:300]
                rows_per_write = int(first.json()[target.count_key]) if target.count_key else 1
                rows_before = prepared.count_rows(table=target.table)

                proxy.stop()  # the database is gone
                failed = [write.send(server.base_url, token=prepared.token) for _ in range(4)]
                ready = http_call(server.base_url, "GET", "/readyz")
                model_free = [http_call(server.base_url, "GET", p).status for p in ("/healthz",)]

                proxy.start()  # and back
                acknowledged: list[int] = []

                def write_once() -> bool:
                    reply = write.send(server.base_url, token=prepared.token)
                    if reply.status in (200, 201):
                        acknowledged.append(int(reply.json()[target.count_key]) if target.count_key else 1)
                    return reply.status in (200, 201)

                recovered = wait_steady(write_once, times=4)
                rows_after = prepared.count_rows(table=target.table)
    finally:
        proxy.stop()
    for reply in failed:
        assert is_problem(reply, 503), (reply.status, reply.text[:500])
        assert "database" in reply.json().get("detail", "").lower() + reply.json().get("title", "").lower()
    assert ready.status == 503 and "database" in ready.text.lower()
    assert model_free == [200]
    assert recovered, "writes did not work again after the database came back"
    # nothing from the refused writes: exactly the writes acknowledged after recovery were added
    assert rows_after - rows_before == sum(acknowledged) >= 4 * rows_per_write


@pytest.mark.parametrize("app", APPS)
def test_training_killed_mid_run_leaves_no_version_and_next_run_succeeds(pool, app: str) -> None:
    pool.prepared(app)  # the session's preparation killed a first training run, then trained again
    record = pool.kill_records[app]
    assert record["returncode"] == -signal.SIGKILL
    assert record["killed_after"], "the training was killed before it reported any progress"
    for model in record["models"]:
        assert record["visible_after_kill"].get(model, []) == [], record
        assert not any(line.split()[:1] == [model] for line in record["models_list_after_kill"].splitlines())
        assert record["visible_after_rerun"].get(model) == ["1"], record  # the killed run claimed no number
    assert not [p for p in record["hidden_leftovers"] if not p.split("/")[-1].startswith(".staging-")]
