"""Telemetry store: idempotent ingestion, scoring on arrival, alerting, and concurrent clients."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from common.db import engine_create
from common.maintenance import store
from common.maintenance.fleet_sim import fleet_create
from common.maintenance.schemas import TelemetryReadingIn
from common.registry import LoadedModel
from tests.maintenance_flask.support import HEALTHY_READING, POWER_FAILURE_READING, at, telemetry


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = engine_create(url=f"sqlite:///{tmp_path / 'maintenance.sqlite3'}")
    store.tables_create(engine=engine)
    yield engine
    engine.dispose()


@pytest.fixture
def ingest(engine: sa.Engine, failure_loaded: LoadedModel, rul_loaded: LoadedModel) -> Any:
    policy = store.AlertPolicy(failure_threshold=float(failure_loaded.artifact.threshold_), rul_horizon_cycles=30)

    def run(machine_id: str, readings: list[dict[str, Any]], *, on: sa.Engine | None = None) -> store.IngestResult:
        return store.reading_ingest(
            engine=on or engine, machine_id=machine_id, batch=[TelemetryReadingIn(**r) for r in readings],
            failure_model=failure_loaded.artifact, rul_model=rul_loaded.artifact, policy=policy)

    return run


def _count(engine: sa.Engine, table: sa.Table, *where: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def test_a_resent_batch_is_not_counted_twice(engine: sa.Engine, ingest: Any) -> None:
    batch = [telemetry(HEALTHY_READING, at=at(i)) for i in range(10)]
    first = ingest("press-1", batch)
    assert (first.received, first.stored, first.duplicates) == (10, 10, 0)
    again = ingest("press-1", batch[5:] + [telemetry(HEALTHY_READING, at=at(10))])
    assert (again.received, again.stored, again.duplicates) == (6, 1, 5)
    assert _count(engine, store.readings) == 11
    # The same timestamp twice inside one batch is one reading too.
    assert ingest("press-1", [telemetry(HEALTHY_READING, at=at(20))] * 3).stored == 1
    assert store.machine_get(engine=engine, machine_id="press-1")["readings"] == 12


def test_the_same_timestamp_on_another_machine_is_another_reading(engine: sa.Engine, ingest: Any) -> None:
    ingest("press-1", [telemetry(HEALTHY_READING, at=at(0))])
    assert ingest("press-2", [telemetry(HEALTHY_READING, at=at(0))]).stored == 1


def test_each_reading_is_scored_on_arrival(engine: sa.Engine, ingest: Any) -> None:
    result = ingest("press-1", [telemetry(HEALTHY_READING, at=at(0)), telemetry(POWER_FAILURE_READING, at=at(1))])
    history = store.machine_get(engine=engine, machine_id="press-1")["history"]
    assert history[0]["failure_probability"] < 0.1 < 0.5 < history[1]["failure_probability"]
    assert result.latest_failure_probability == pytest.approx(history[1]["failure_probability"])
    assert result.status == "critical"


def test_crossing_the_threshold_raises_one_alert_until_acknowledged(engine: sa.Engine, ingest: Any) -> None:
    ingest("press-1", [telemetry(HEALTHY_READING, at=at(i)) for i in range(5)])
    assert store.alert_list(engine=engine)[1] == 0
    crossed = ingest("press-1", [telemetry(POWER_FAILURE_READING, at=at(5))])
    assert crossed.alerts_raised == 1
    alerts, total = store.alert_list(engine=engine, open_only=True)
    assert total == 1 and alerts[0]["kind"] == "failure_risk" and alerts[0]["machine_id"] == "press-1"
    assert "above the 9,000 W upper limit" in alerts[0]["message"]
    # Still in danger: no second open alert for the same machine and kind.
    assert ingest("press-1", [telemetry(POWER_FAILURE_READING, at=at(6))]).alerts_raised == 0
    acknowledged = store.alert_acknowledge(engine=engine, alert_id=alerts[0]["id"], by="ann")
    assert acknowledged["acknowledged_by"] == "ann" and acknowledged["acknowledged_at"] is not None
    assert store.alert_acknowledge(engine=engine, alert_id=alerts[0]["id"], by="bob")["acknowledged_by"] == "ann"
    # After acknowledgement the next crossing is a new alert.
    assert ingest("press-1", [telemetry(POWER_FAILURE_READING, at=at(7))]).alerts_raised == 1
    assert store.alert_list(engine=engine)[1] == 2 and store.alert_list(engine=engine, open_only=True)[1] == 1
    with pytest.raises(store.AlertNotFoundError):
        store.alert_acknowledge(engine=engine, alert_id=999, by="ann")


def test_short_remaining_life_raises_an_rul_alert(engine: sa.Engine, ingest: Any) -> None:
    machine = fleet_create(machines=1, seed=5)[0]
    readings = []
    while machine.engine.remaining_cycles > 5:  # run the engine close to failure, at normal process conditions
        reading = machine.next_reading(timestamp=at(len(readings)))
        readings.append({**reading, **{k: HEALTHY_READING[k] for k in HEALTHY_READING}})
    result = ingest("turbine-1", readings)
    assert result.latest_rul_cycles is not None and result.latest_rul_cycles < 30
    alerts, _ = store.alert_list(engine=engine, open_only=True)
    assert [a["kind"] for a in alerts] == ["rul"]
    assert "below the 30-cycle horizon" in alerts[0]["message"]
    history = store.machine_get(engine=engine, machine_id="turbine-1", history=1000)["history"]
    rul = [r["rul_cycles"] for r in history]
    assert all(r is not None for r in rul) and rul[-1] < rul[len(rul) // 4]
    assert store.machine_list(engine=engine)[0]["status"] == "critical"


def test_rul_continues_across_batches_like_one_history(engine: sa.Engine, ingest: Any, rul_loaded: LoadedModel) -> None:
    """Scoring 60 readings at once or in 6 batches gives the same RUL (the window reads the stored history)."""
    machine_a, machine_b = fleet_create(machines=1, seed=8)[0], fleet_create(machines=1, seed=8)[0]
    readings_a = [machine_a.next_reading(timestamp=at(i)) for i in range(60)]
    readings_b = [machine_b.next_reading(timestamp=at(i)) for i in range(60)]
    assert readings_a == readings_b
    ingest("whole", readings_a)
    for start in range(0, 60, 10):
        ingest("batched", readings_b[start:start + 10])
    whole = [r["rul_cycles"] for r in store.machine_get(engine=engine, machine_id="whole")["history"]]
    batched = [r["rul_cycles"] for r in store.machine_get(engine=engine, machine_id="batched")["history"]]
    assert whole == pytest.approx(batched, abs=0.01)


def test_fleet_lists_worst_first_with_counts(engine: sa.Engine, ingest: Any) -> None:
    ingest("a-healthy", [telemetry(HEALTHY_READING, at=at(0))])
    ingest("b-failing", [telemetry(POWER_FAILURE_READING, at=at(0))])
    fleet = store.machine_list(engine=engine)
    assert [m["machine_id"] for m in fleet] == ["b-failing", "a-healthy"]
    assert fleet[0]["status"] == "critical" and fleet[0]["open_alerts"] == 1 and fleet[1]["status"] == "ok"
    assert store.fleet_summary(engine=engine) == {"ok": 1, "warning": 0, "critical": 1, "unknown": 0, "open_alerts": 1}
    with pytest.raises(store.MachineNotFoundError):
        store.machine_get(engine=engine, machine_id="nope")


def test_policy_colours() -> None:
    policy = store.AlertPolicy(failure_threshold=0.4, rul_horizon_cycles=30)
    assert policy.status(failure_probability=None, rul_cycles=None) == "unknown"
    assert policy.status(failure_probability=0.05, rul_cycles=100) == "ok"
    assert policy.status(failure_probability=0.25, rul_cycles=100) == "warning"
    assert policy.status(failure_probability=0.05, rul_cycles=45) == "warning"
    assert policy.status(failure_probability=0.45, rul_cycles=100) == "critical"
    assert policy.status(failure_probability=0.05, rul_cycles=12) == "critical"


def _concurrent_ingestion(engine: sa.Engine, ingest: Any) -> None:
    """12 clients, 3 machines, overlapping resends: every distinct reading stored exactly once."""
    errors: list[BaseException] = []
    stored: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def client(index: int) -> None:
        machine = f"m{index % 3}"
        # Clients of one machine send overlapping timestamp ranges (resends of each other's batches).
        seconds = range(index // 3 * 10, index // 3 * 10 + 25)
        readings = [telemetry(POWER_FAILURE_READING if s % 7 == 0 else HEALTHY_READING, at=at(s)) for s in seconds]
        try:
            start.wait()
            for chunk in range(0, len(readings), 5):
                result = ingest(machine, readings[chunk:chunk + 5], on=engine)
                with lock:
                    stored.append(result.stored)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    distinct_per_machine = 25 + 3 * 10  # 4 clients per machine, ranges 0-24, 10-34, 20-44, 30-54
    assert _count(engine, store.readings) == 3 * distinct_per_machine
    assert sum(stored) == 3 * distinct_per_machine
    for machine in ("m0", "m1", "m2"):
        open_alerts = _count(engine, store.alerts, store.alerts.c.machine_id == machine,
                             store.alerts.c.acknowledged_at.is_(None))
        assert open_alerts == 1


def test_concurrent_ingestion_loses_nothing_on_sqlite(engine: sa.Engine, ingest: Any) -> None:
    _concurrent_ingestion(engine, ingest)


@pytest.mark.postgres
def test_concurrent_ingestion_loses_nothing_on_postgres(ingest: Any) -> None:
    url = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    engine = engine_create(url=url)
    store.metadata.drop_all(engine)
    store.tables_create(engine=engine)
    try:
        _concurrent_ingestion(engine, ingest)
        assert store.machine_get(engine=engine, machine_id="m0")["last_reading_at"].tzinfo is not None
        machine = fleet_create(machines=1, seed=8)[0]
        readings = [machine.next_reading(timestamp=at(i)) for i in range(40)]
        ingest("engine-pg", readings[:20], on=engine)
        result = ingest("engine-pg", readings[20:], on=engine)  # the window reads the JSON engine history back
        assert result.stored == 20 and result.latest_rul_cycles is not None
    finally:
        store.metadata.drop_all(engine)
        engine.dispose()
