"""`mlapps compare`: the Flask and Django deployments measured side by side, in one run.

Every server runs under gunicorn with the same settings (`common.gunicorn_base`:
sync workers = cores, OpenMP/BLAS pinned to one thread per worker, access log
off for all), each app started exactly as `mlapps serve APP --prod` starts it
(`AppSpec.prod_argv`).  Two baselines share the run: a bare WSGI app (the HTTP
floor) and the article's Flask app serving the same seed model.

Measured, on 127.0.0.1 only:
- requests/s, p50 and p99 latency and errors at each concurrency (1 and 8), in
  interleaved rounds (every endpoint once per round, order rotated), medians;
- cold start: process start to the first successful prediction;
- resident memory (RSS and PSS) of each worker.

The load generator is wrk when installed, else a multi-process keep-alive
client built on http.client; its CPU use at the floor is reported so a
saturated generator is visible.  Results go to `reports/compare.{md,json,svg}`.

Modules: `servers` (endpoints, gunicorn processes), `load` (generators), `run`
(one run end to end), `report` (medians, targets, markdown, chart).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.compare.load import LoadResult, PythonGenerator, WrkGenerator, parse_wrk_output, wrk_script
from common.compare.report import (
    TARGET_CONCURRENCY,
    generator_note,
    markdown_report,
    reports_write,
    results_table,
    servers_table,
    side_by_side,
    summarize,
    targets_check,
    targets_table,
)
from common.compare.run import CompareOptions, compare_run, server_environment
from common.compare.servers import (
    DOMAIN_ENDPOINTS,
    SEED_ROUTES,
    DomainEndpoint,
    Endpoint,
    ServerProcess,
    ServerSpec,
    app_server,
    baseline_servers,
    installed_apps,
    pid_running,
)

__all__ = [
    "DOMAIN_ENDPOINTS", "SEED_ROUTES", "CompareOptions", "DomainEndpoint", "Endpoint", "LoadResult",
    "PythonGenerator", "ServerProcess", "ServerSpec", "WrkGenerator", "app_server", "baseline_servers",
    "compare_run", "configure_parser", "generator_note", "installed_apps", "markdown_report",
    "parse_wrk_output", "pid_running", "reports_write", "results_table", "run_command", "server_environment",
    "servers_table", "side_by_side", "summarize", "targets_check", "targets_table", "wrk_script",
]


# --------------------------------------------------------------------------- command line
def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per endpoint, concurrency and round")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (medians are reported)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, TARGET_CONCURRENCY])
    parser.add_argument("--cold-starts", type=int, default=3, help="start-ups measured per server")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load per endpoint before measuring")
    parser.add_argument("--workers", type=int, help="gunicorn workers per server (default: CPU count)")
    parser.add_argument("--servers", nargs="+", default=[],
                        help="only these: floor article credit maintenance recommender")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="folder for compare.{md,json,svg}")
    parser.add_argument("--no-prepare", action="store_true", help="do not train models or prepare databases")
    parser.add_argument("--quick", action="store_true", help="quick training of missing models")
    parser.add_argument("--access-log", default="off", help='access log of every server: "off", "-" or a path')
    parser.add_argument("--check-targets", action="store_true", help="exit 1 when a target is missed")


def run_command(args: argparse.Namespace) -> int:
    options = CompareOptions(
        duration=args.duration, rounds=args.rounds, concurrency=tuple(sorted(set(args.concurrency))),
        cold_starts=args.cold_starts, warmup=args.warmup, workers=args.workers, servers=tuple(args.servers),
        generator=args.generator, out_dir=args.out, prepare=not args.no_prepare, quick=args.quick,
        access_log=args.access_log,
    )

    def progress(message: str) -> None:
        print(f"[compare] {message}", file=sys.stderr, flush=True)

    result = compare_run(options=options, progress=progress)
    paths = reports_write(result, out_dir=options.out_dir)
    print(results_table(result))
    print()
    print(targets_table(result))
    print()
    print(servers_table(result))
    print()
    print(generator_note(result))
    print("\n" + "\n".join(f"wrote {path}" for path in paths.values()))
    if result["processes"]["left_running"]:
        return 1
    if args.check_targets and any(check["passed"] is False for check in result["targets"]):
        return 1
    return 0
