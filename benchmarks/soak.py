"""Load and soak of every app under its production gunicorn config: `make soak`.

For each installed app (trained with `--quick` into a temporary store, database prepared, API
token created), `mlapps serve APP --prod` runs for `--duration` seconds (60) at `--concurrency`
connections (32) on 127.0.0.1 only, alternating the app's main read and write endpoints
(`benchmarks.reliability_env.PROFILES`).  Measured:

- requests, errors (any connection failure or status >= 400), p50 and p99 latency per endpoint;
- resident memory (RSS, master + workers, from /proc) after the first 10 s and at the end, and
  the drift between them (the target is within 10 %);
- every acknowledged write (2xx) is looked up in the database afterwards by the id it
  returned: acknowledged, found, lost.

The client is a multi-process keep-alive http.client load (processes x threads = concurrency),
so one connection never waits on another's interpreter lock.  Prints a table and writes
reports/soak.json; exits 1 on an error, a lost write or a drift above 10 %.  `make test` runs
the same code for a few seconds (tests/reliability/test_soak.py), asserting zero errors and
zero lost writes, never timings.

    python benchmarks/soak.py [--apps credit ...] [--duration 60] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import http.client
import json
import math
import multiprocessing
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.reliability_env import (  # noqa: E402
    APP_NAMES, HOST, REPO_ROOT, AppServer, Call, PreparedApp, WriteTarget, app_prepare, app_serve, cli_apps,
    cli_progress, report_write, vary_text,
)

MEMORY_DRIFT_LIMIT = 0.10


@dataclasses.dataclass(frozen=True)
class LoadCall:
    """One endpoint of a load: its request, and where its acknowledged writes land (if it writes)."""

    kind: str  # "read", "write", "predict", ...
    call: Call
    write: WriteTarget | None = None


@dataclasses.dataclass
class LoadReport:
    seconds: float
    concurrency: int
    by_kind: dict[str, dict[str, Any]]  # kind -> requests, errors, p50_ms, p99_ms
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    error_samples: list[str]
    acked_ids: dict[str, list[Any]]  # kind -> ids (or stored-row counts) returned by acknowledged writes
    acked_writes: dict[str, int]  # kind -> acknowledged (2xx) writes
    rss_samples: list[tuple[float, int]]  # (seconds since start, KiB)

    def rss_at(self, seconds: float) -> int:
        """The first RSS sample taken at or after `seconds` (the last one if none)."""
        for at, kib in self.rss_samples:
            if at >= seconds:
                return kib
        return self.rss_samples[-1][1] if self.rss_samples else 0


# --------------------------------------------------------------------------- the client processes
def _percentiles(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return pick(0.50), pick(0.99)


def _connection_loop(*, port: int, calls: list[dict[str, Any]], index: int, stop_at: float,
                     start_at: float, out: dict[str, Any]) -> None:
    """One keep-alive connection sending `calls` in turn (offset by `index`) until `stop_at`."""
    client = http.client.HTTPConnection(HOST, port, timeout=60)
    while time.monotonic() < start_at:
        time.sleep(0.001)
    turn = index
    while (now := time.monotonic()) < stop_at:
        call = calls[turn % len(calls)]
        turn += 1
        kind = call["kind"]
        sent = time.perf_counter()
        status, problem, data = 0, None, b""
        body, path = call["body"], call["path"]
        if call["vary"]:  # distinct requests: each connection counts up from its own offset
            n = index * 7919 + turn
            path = vary_text(path, n=n, connection=index, choices=call["vary_choices"])
            if body is not None:
                body = vary_text(body.decode(), n=n, connection=index, choices=call["vary_choices"]).encode()
        try:
            client.request(call["method"], path, body=body, headers=call["headers"])
            response = client.getresponse()
            data = response.read()
            status = response.status
            if response.will_close:
                client.close()
        except (OSError, http.client.HTTPException) as exc:
            problem = f"{kind}: {type(exc).__name__}: {exc}"
            client.close()
        elapsed = (time.perf_counter() - sent) * 1000.0
        stats = out["by_kind"].setdefault(kind, {"latencies": [], "errors": 0})
        stats["latencies"].append(elapsed)
        if problem is None and status >= 400:
            problem = f"{kind}: HTTP {status}: {data[:300].decode('utf-8', 'replace')}"
        if problem is not None:
            stats["errors"] += 1
            if len(out["samples"]) < 20:
                out["samples"].append(problem)
            continue
        if call["writes"]:
            out["acked"][kind] = out["acked"].get(kind, 0) + 1
            key = call["id_key"] or call["count_key"]
            with contextlib.suppress(ValueError, KeyError, TypeError, IndexError):
                out["ids"].setdefault(kind, []).append(_id_from(json.loads(data), key))
        del now
    client.close()


def _id_from(document: Any, key: str) -> Any:
    """The created id: `document[key]`, or of the first element when the answer is a list."""
    if isinstance(document, list):
        document = document[0]
    for part in key.split("."):
        document = document[part]
    return document


def _connection_safe(**kwargs: Any) -> None:
    """`_connection_loop`, with a crash of the client itself reported as an error (never as silence)."""
    try:
        _connection_loop(**kwargs)
    except Exception as exc:  # noqa: BLE001 - any bug here must show up in the results
        out = kwargs["out"]
        out["by_kind"].setdefault("client", {"latencies": [0.0], "errors": 0})["errors"] += 1
        out["samples"].append(f"load client crashed: {type(exc).__name__}: {exc}")


def _client_process(pipe: Any, port: int, calls: list[dict[str, Any]], connections: int, first_index: int) -> None:
    job = pipe.recv()  # {"start_at", "stop_at"}; CLOCK_MONOTONIC is shared by every process
    outs = [{"by_kind": {}, "samples": [], "acked": {}, "ids": {}} for _ in range(connections)]
    threads = [
        threading.Thread(
            target=_connection_safe,
            kwargs={"port": port, "calls": calls, "index": first_index + i, "stop_at": job["stop_at"],
                    "start_at": job["start_at"], "out": outs[i]},
            daemon=True,
        )
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pipe.send(outs)
    pipe.close()


def load_run(
    *, server: AppServer, calls: Sequence[LoadCall], token: str | None, duration: float, concurrency: int,
    processes: int = 4, on_tick: Callable[[float], None] | None = None, tick: float = 0.25,
) -> LoadReport:
    """`concurrency` keep-alive connections over `processes` processes for `duration` seconds.

    Every `tick` seconds the resident memory of the server is sampled and `on_tick(elapsed)`
    is called (fault injection: promote a version, kill a worker ...).
    """
    wire = []
    for item in calls:
        body, headers = item.call.encoded(template=True)
        if item.call.auth and token:
            headers["Authorization"] = f"Bearer {token}"
        wire.append({
            "kind": item.kind, "method": item.call.method, "path": item.call.path, "body": body, "headers": headers,
            "writes": item.write is not None, "id_key": item.write.id_key if item.write else None,
            "count_key": item.write.count_key if item.write else None, "vary": item.call.vary,
            "vary_choices": item.call.vary_choices,
        })
    processes = max(1, min(processes, concurrency))
    shares = [concurrency // processes + (1 if i < concurrency % processes else 0) for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    workers = []
    first = 0
    for share in shares:
        parent, child = context.Pipe()
        process = context.Process(target=_client_process, args=(child, server.port, wire, share, first), daemon=True)
        process.start()
        child.close()
        workers.append((process, parent))
        first += share
    start_at = time.monotonic() + 1.5  # time for every spawned client to import and connect
    stop_at = start_at + duration
    for _, pipe in workers:
        pipe.send({"start_at": start_at, "stop_at": stop_at})
    samples: list[tuple[float, int]] = []
    while time.monotonic() < start_at:
        time.sleep(0.01)
    while (now := time.monotonic()) < stop_at:
        elapsed = now - start_at
        samples.append((round(elapsed, 2), server.rss_kib()))
        if on_tick is not None:
            on_tick(elapsed)
        time.sleep(max(0.0, min(tick, stop_at - time.monotonic())))
    outs: list[dict[str, Any]] = []
    for process, pipe in workers:
        if not pipe.poll(duration + 120):
            raise RuntimeError("a load client did not report back")
        outs.extend(pipe.recv())
        process.join(timeout=10)
    samples.append((round(time.monotonic() - start_at, 2), server.rss_kib()))
    return _merge(outs, seconds=duration, concurrency=concurrency, samples=samples)


def _merge(outs: list[dict[str, Any]], *, seconds: float, concurrency: int,
           samples: list[tuple[float, int]]) -> LoadReport:
    by_kind: dict[str, dict[str, Any]] = {}
    latencies_all: list[float] = []
    acked: dict[str, int] = {}
    ids: dict[str, list[Any]] = {}
    error_samples: list[str] = []
    for out in outs:
        for kind, stats in out["by_kind"].items():
            merged = by_kind.setdefault(kind, {"latencies": [], "errors": 0})
            merged["latencies"].extend(stats["latencies"])
            merged["errors"] += stats["errors"]
        for kind, count in out["acked"].items():
            acked[kind] = acked.get(kind, 0) + count
        for kind, values in out["ids"].items():
            ids.setdefault(kind, []).extend(values)
        error_samples.extend(out["samples"])
    summary = {}
    for kind, stats in by_kind.items():
        p50, p99 = _percentiles(stats["latencies"])
        latencies_all.extend(stats["latencies"])
        summary[kind] = {"requests": len(stats["latencies"]), "errors": stats["errors"],
                         "p50_ms": round(p50, 2), "p99_ms": round(p99, 2)}
    p50, p99 = _percentiles(latencies_all)
    return LoadReport(
        seconds=seconds, concurrency=concurrency, by_kind=summary, requests=len(latencies_all),
        errors=sum(s["errors"] for s in summary.values()), p50_ms=round(p50, 2), p99_ms=round(p99, 2),
        error_samples=error_samples[:20], acked_ids=ids, acked_writes=acked, rss_samples=samples,
    )


# --------------------------------------------------------------------------- counting writes
def writes_check(*, prepared: PreparedApp, report: LoadReport, calls: Sequence[LoadCall],
                 rows_before: dict[str, int] | None = None) -> dict[str, dict[str, int]]:
    """Per writing endpoint: acknowledged writes, the rows they reported, how many are in the database, lost.

    With an id in the answer each acknowledged id is looked up (an upsert answers the same row
    again: rows are counted once); with a stored-row count the table must have grown by their
    sum (`rows_before` from `rows_count`).  An answer whose id or count could not be read
    counts as lost.
    """
    checked: dict[str, dict[str, int]] = {}
    for item in calls:
        if item.write is None:
            continue
        acked = report.acked_writes.get(item.kind, 0)
        values = report.acked_ids.get(item.kind, [])
        unreadable = acked - len(values)
        if item.write.id_key:
            ids = sorted(set(values))
            found = prepared.count_rows(table=item.write.table, where_ids=ids, id_column=item.write.id_column,
                                        owner=item.write.owner)
            rows = len(ids)
        else:
            rows = sum(int(v) for v in values)
            grown = (prepared.count_rows(table=item.write.table, owner=item.write.owner)
                     - (rows_before or {}).get(item.kind, 0))
            found = min(grown, rows)
        checked[item.kind] = {"acknowledged": acked, "rows": rows, "found": found, "lost": rows - found + unreadable}
    return checked


def rows_count(*, prepared: PreparedApp, calls: Sequence[LoadCall]) -> dict[str, int]:
    return {item.kind: prepared.count_rows(table=item.write.table, owner=item.write.owner)
            for item in calls if item.write is not None}


def main_calls(prepared: PreparedApp) -> list[LoadCall]:
    """The app's main read and write endpoints, as its reliability profile names them."""
    profile = prepared.profile
    return [LoadCall(kind="read", call=profile.read),
            LoadCall(kind="write", call=profile.write, write=profile.write_target)]


def soak_app(*, prepared: PreparedApp, duration: float, concurrency: int, warm_seconds: float,
             workers: int | None = None, processes: int = 4) -> dict[str, Any]:
    """Serve `prepared` under gunicorn, load it, and check memory and writes (the soak of one app)."""
    with app_serve(prepared, workers=workers) as server:
        return soak_server(prepared=prepared, server=server, duration=duration, concurrency=concurrency,
                           warm_seconds=warm_seconds, processes=processes)


def soak_server(*, prepared: PreparedApp, server: AppServer, duration: float, concurrency: int,
                warm_seconds: float, processes: int = 4) -> dict[str, Any]:
    """Load a running server on the app's main read and write endpoints; check memory and writes."""
    calls = main_calls(prepared)
    before = rows_count(prepared=prepared, calls=calls)
    workers_before = sorted(server.worker_pids())
    report = load_run(server=server, calls=calls, token=prepared.token, duration=duration,
                      concurrency=concurrency, processes=processes)
    workers_after = sorted(server.worker_pids())
    writes = writes_check(prepared=prepared, report=report, calls=calls, rows_before=before)
    reference = report.rss_at(warm_seconds)
    end = report.rss_samples[-1][1] if report.rss_samples else 0
    drift = (end - reference) / reference if reference else float("nan")
    return {
        "app": prepared.name, "duration_s": duration, "concurrency": concurrency, "workers": len(workers_before),
        "requests": report.requests, "errors": report.errors, "rps": round(report.requests / duration, 1),
        "p50_ms": report.p50_ms, "p99_ms": report.p99_ms, "by_endpoint": {
            kind: {**stats, "path": next(c.call.path for c in calls if c.kind == kind)}
            for kind, stats in report.by_kind.items()
        },
        "rss_reference_kib": reference, "rss_reference_at_s": warm_seconds, "rss_end_kib": end,
        "memory_drift": round(drift, 4), "writes": writes,
        "writes_acknowledged": sum(w["acknowledged"] for w in writes.values()),
        "writes_rows": sum(w["rows"] for w in writes.values()),
        "writes_found": sum(w["found"] for w in writes.values()),
        "writes_lost": sum(w["lost"] for w in writes.values()),
        "worker_pids_unchanged": workers_before == workers_after,
        "error_samples": report.error_samples,
    }


def results_table(results: list[dict[str, Any]]) -> str:
    from common.training import format_table

    rows = [
        {
            "app": r["app"], "seconds": f"{r['duration_s']:g}", "conc": r["concurrency"], "requests": r["requests"],
            "req/s": f"{r['rps']:.1f}", "errors": r["errors"], "p50 ms": f"{r['p50_ms']:.1f}",
            "p99 ms": f"{r['p99_ms']:.1f}", "rss@ref MiB": f"{r['rss_reference_kib'] / 1024:.1f}",
            "rss end MiB": f"{r['rss_end_kib'] / 1024:.1f}", "drift %": f"{100 * r['memory_drift']:+.2f}",
            "writes acked": r["writes_acknowledged"], "rows": r["writes_rows"], "in DB": r["writes_found"],
            "lost": r["writes_lost"],
        }
        for r in results
    ]
    return format_table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", nargs="*", choices=APP_NAMES, help="default: every installed app")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warm", type=float, default=10.0, help="memory reference point, seconds into the load")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: the app config's)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "reports" / "soak.json")
    args = parser.parse_args(argv)
    progress = cli_progress("soak")
    names = cli_apps(parser, args.apps)
    workers = args.workers  # None: the app's production gunicorn config decides (one per CPU)
    started = time.time()
    results = []
    with tempfile.TemporaryDirectory(prefix="mlapps-soak-") as tmp:
        for name in names:
            prepared = app_prepare(name=name, root=Path(tmp) / name, quick=True, progress=progress)
            progress(f"{name}: {args.duration:.0f} s at concurrency {args.concurrency}")
            results.append(soak_app(prepared=prepared, duration=args.duration, concurrency=args.concurrency,
                                    warm_seconds=min(args.warm, args.duration / 2), workers=workers))
    print(results_table(results))
    for result in results:
        for sample in result["error_samples"][:5]:
            print(f"  {result['app']}: {sample}")
    document = {
        "started": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1), "memory_drift_limit": MEMORY_DRIFT_LIMIT, "apps": results,
    }
    report_write(args.out, document)
    failed = any(
        r["errors"] or r["writes_lost"] or not (abs(r["memory_drift"]) <= MEMORY_DRIFT_LIMIT) for r in results
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
