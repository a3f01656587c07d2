"""Load, bounded: the soak code of `make soak` for a few seconds, and a worker killed under load.

Asserts what a user would notice (errors, lost writes, a missing worker), never timings.
"""

from __future__ import annotations

import os
import signal
import pytest

from benchmarks.soak import LoadCall, load_run, main_calls, rows_count, soak_server, writes_check
from tests.reliability.conftest import APPS
from tests.reliability.helpers import wait_for


@pytest.mark.parametrize("app", APPS)
def test_short_soak_has_no_error_and_loses_no_write(pool, app: str) -> None:
    server = pool.served(app)
    result = soak_server(prepared=server.prepared, server=server, duration=3.0, concurrency=8, warm_seconds=1.0,
                         processes=2)
    assert result["errors"] == 0, result["error_samples"]
    assert result["by_endpoint"]["read"]["requests"] > 0
    assert result["writes_acknowledged"] > 0
    assert result["writes_found"] == result["writes_rows"] > 0  # rows the acknowledged writes answered with
    # every write is another row (another decision, reading or movie), not the same one again
    assert result["writes_rows"] >= 0.9 * result["writes_acknowledged"]
    assert result["writes_lost"] == 0
    assert result["worker_pids_unchanged"]
    assert result["rss_end_kib"] > 0 and result["rss_reference_kib"] > 0


@pytest.mark.parametrize("app", APPS)
def test_killed_worker_is_replaced_and_no_acknowledged_write_is_lost(pool, app: str) -> None:
    server = pool.served(app)  # the session's shared server: a replaced worker leaves it as good as before
    prepared = server.prepared
    calls: list[LoadCall] = main_calls(prepared)
    killed: list[int] = []
    before = rows_count(prepared=prepared, calls=calls)
    workers_before = set(server.worker_pids())
    assert len(workers_before) == 2

    def kill_one_worker(elapsed: float) -> None:
        if elapsed >= 1.0 and not killed:
            victim = sorted(server.worker_pids())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    report = load_run(server=server, calls=calls, token=prepared.token, duration=4.0, concurrency=8,
                      processes=2, on_tick=kill_one_worker)
    replaced = wait_for(lambda: len(set(server.worker_pids()) - set(killed)) == 2, timeout=30)
    workers_after = set(server.worker_pids())
    answer = prepared.profile.read.send(server.base_url, token=prepared.token)
    assert killed, "no worker was killed"
    assert replaced, f"the killed worker {killed} was not replaced: workers now {workers_after}"
    assert killed[0] not in workers_after and len(workers_after - workers_before) == 1
    assert answer.status == 200
    writes = writes_check(prepared=prepared, report=report, calls=calls, rows_before=before)
    assert writes["write"]["acknowledged"] > 0
    assert writes["write"]["lost"] == 0, writes
    # only the request the killed worker was handling may fail
    assert report.errors <= 1, report.error_samples
