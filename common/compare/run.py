"""One comparison run: prepare, start every server, cold starts, interleaved rounds, memory, stop."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from common.compare.load import PythonGenerator, WrkGenerator
from common.compare.report import TARGET_CONCURRENCY, median_of, summarize, targets_check
from common.compare.servers import (
    DOMAIN_ENDPOINTS,
    REPO_ROOT,
    Endpoint,
    ServerProcess,
    ServerStartError,
    answer_problem,
    app_server,
    baseline_servers,
    cpu_count,
    cpu_seconds,
    display_argv,
    http_request,
    installed_apps,
    machine_busy_seconds,
    memory_kib,
    wait_all_ready,
)

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class CompareOptions:
    # Short slices, many rounds: background load drifts, and every endpoint sees the same drift.
    duration: float = 2.0
    rounds: int = 7
    concurrency: tuple[int, ...] = (1, TARGET_CONCURRENCY)
    cold_starts: int = 3
    warmup: float = 1.0
    workers: int | None = None  # default: the cores this process may use
    servers: tuple[str, ...] = ()  # default: both baselines and every installed app
    generator: str = "auto"  # auto | wrk | python
    out_dir: Path = Path("reports")
    prepare: bool = True  # train missing models, prepare databases, create an API token
    quick: bool = False  # quick training of missing models
    access_log: str = "off"
    start_timeout: float = 180.0
    parallel_start: bool = False  # start every server at once (smoke runs); cold starts then overlap


def server_environment(*, options: CompareOptions) -> dict[str, str]:
    """One environment for every server: the same gunicorn knobs and production mode."""
    env = dict(os.environ)
    env.update(
        {
            "MLAPPS_WORKERS": str(options.workers or cpu_count()),
            "MLAPPS_THREADS_PER_WORKER": "1",
            "MLAPPS_ACCESS_LOG": options.access_log,
            "MLAPPS_LOG_LEVEL": "warning",
            "MLAPPS_PRELOAD": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.setdefault("MLAPPS_MODE", "production")
    if env["MLAPPS_MODE"] == "production" and len(env.get("MLAPPS_SECRET_KEY", "")) < 32:
        env["MLAPPS_SECRET_KEY"] = secrets.token_urlsafe(48)  # this run only
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def seed_model_file(*, progress: Progress, train: bool, quick: bool) -> Path | None:
    """The current seed artifact (trained first when missing and `train`)."""
    from common.registry import ARTIFACT_FILE, ModelNotFoundError, registry_from_settings
    from common.training import TrainOptions, run_training

    registry = registry_from_settings()
    if registry.current_version("seed") is None:
        if not train:
            return None
        progress("training the seed model (missing)")
        run_training(scenario="seed", options=TrainOptions(quick=quick), registry=registry, quiet=True)
    try:
        return registry.get("seed").path / ARTIFACT_FILE
    except ModelNotFoundError:
        return None


def apps_prepare(*, app_names: Sequence[str], env: dict[str, str], quick: bool, progress: Progress) -> dict[str, str]:
    """Train missing models, prepare each app's database, create API tokens; returns tokens by app."""
    import importlib

    from common.apps import get_app
    from common.registry import registry_from_settings
    from common.training import RECIPES, TrainOptions, run_training

    registry = registry_from_settings()
    done: set[str] = set()
    tokens: dict[str, str] = {}
    for name in app_names:
        app = get_app(name)
        for scenario in app.train_scenarios:
            if scenario in done or scenario not in RECIPES:
                continue
            done.add(scenario)
            models = importlib.import_module(RECIPES[scenario]).RECIPE.models
            if all(registry.current_version(m) for m in models):
                continue
            progress(f"training {scenario} (missing: {', '.join(models)})")
            run_training(scenario=scenario, options=TrainOptions(quick=quick), registry=registry, quiet=True)
        for argv in app.prepare_argv():
            progress(f"{name}: {' '.join(argv[1:])}")
            completed = subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
            if completed.returncode != 0:
                raise RuntimeError(f"{name}: {' '.join(argv[1:])} failed:\n{completed.stderr[-2000:]}")
        domain = DOMAIN_ENDPOINTS.get(name)
        if domain is None:
            continue
        # A token for every app with a domain endpoint: sent whether or not the endpoint requires one.
        argv = [sys.executable, "-m", "common.cli", "tokens", "create", name, "mlapps-compare"]
        completed = subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        lines = [line.strip() for line in completed.stdout.splitlines() if line.strip()]
        if completed.returncode == 0 and lines:
            tokens[name] = lines[-1].split()[-1]
        elif domain.auth:
            raise RuntimeError(f"{name}: creating an API token failed:\n{completed.stderr[-2000:]}")
    return tokens


@dataclasses.dataclass
class RunState:
    processes: list[ServerProcess]
    measurements: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    cold_starts: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    memory: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    failures: dict[str, str] = dataclasses.field(default_factory=dict)  # endpoint key -> why not measured
    start_failures: dict[str, str] = dataclasses.field(default_factory=dict)  # server -> why it did not start
    leftover_pids: list[int] = dataclasses.field(default_factory=list)
    all_pids: list[int] = dataclasses.field(default_factory=list)


def choose_generator(*, options: CompareOptions, work_dir: Path) -> WrkGenerator | PythonGenerator:
    wrk = shutil.which("wrk")
    if options.generator == "wrk" and wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk), use --generator python")
    if options.generator in ("auto", "wrk") and wrk is not None:
        return WrkGenerator(executable=wrk, work_dir=work_dir)
    return PythonGenerator(processes=max(options.concurrency))


@contextlib.contextmanager
def _servers_running(processes: list[ServerProcess], state: RunState) -> Iterator[None]:
    """Stop every started server however the run ends (Ctrl-C and SIGTERM included)."""
    previous = signal.getsignal(signal.SIGTERM)

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    if previous in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        for process in processes:
            process.terminate()  # all at once: they stop in parallel
        for process in processes:
            process.stop()
            state.all_pids.extend(sorted(process.seen_pids))
        state.leftover_pids = sorted({pid for p in processes for pid in p.leftover_pids()})
        if previous in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)


def compare_run(*, options: CompareOptions, progress: Progress) -> dict[str, Any]:
    """Start, measure and stop every server; returns the full result (what compare.json holds)."""
    started = time.time()
    outer_progress = progress

    def progress(message: str) -> None:
        outer_progress(f"{time.time() - started:6.1f}s {message}")

    env = server_environment(options=options)
    wanted = set(options.servers)
    apps = [name for name in installed_apps() if not wanted or name in wanted]
    if any(name not in installed_apps() + ["floor", "article"] for name in wanted):
        unknown = sorted(wanted - set(installed_apps()) - {"floor", "article"})
        raise LookupError(f"unknown or uninstalled servers: {', '.join(unknown)}")
    tokens: dict[str, str] = {}
    model_file = seed_model_file(progress=progress, train=options.prepare, quick=options.quick)
    if options.prepare and apps:
        tokens = apps_prepare(app_names=apps, env=env, quick=options.quick, progress=progress)
    specs = [s for s in baseline_servers(seed_model_file=model_file) if not wanted or s.name in wanted]
    specs += [app_server(app_name=name, token=tokens.get(name)) for name in apps]
    if not specs:
        raise RuntimeError("nothing to compare")

    work_dir = Path(tempfile.mkdtemp(prefix="mlapps-compare-"))
    processes = [ServerProcess(spec=spec, env=env | dict(spec.env), log_dir=work_dir) for spec in specs]
    state = RunState(processes=processes)
    generator = choose_generator(options=options, work_dir=work_dir)
    with _servers_running(processes, state), generator:
        _cold_starts(state=state, options=options, progress=progress)
        targets = _verify_and_warm(state=state, options=options, generator=generator, progress=progress)
        _rounds(state=state, options=options, generator=generator, targets=targets, progress=progress)
        _memory(state=state)
        progress("measured; stopping every server")
    progress("stopped")
    if state.leftover_pids:
        progress(f"WARNING: processes still running after stop: {state.leftover_pids}")
    result = {
        "started": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1),
        "environment": _environment(generator=generator, env=env),
        "options": {
            "duration_s": options.duration, "rounds": options.rounds, "concurrency": list(options.concurrency),
            "cold_starts": options.cold_starts, "warmup_s": options.warmup,
            "workers": int(env["MLAPPS_WORKERS"]), "access_log": options.access_log,
            "generator": generator.name,
        },
        "servers": [
            {
                "name": p.spec.name, "label": p.spec.label, "framework": p.spec.framework,
                "baseline": p.spec.baseline, "command": display_argv(p.spec.argv(port=p.port)),
                "start_failure": state.start_failures.get(p.spec.name),
                "cold_start_s": state.cold_starts.get(p.spec.name, []),
                "cold_start_endpoint": p.ready_endpoint,
                "memory": state.memory.get(p.spec.name, {}),
                "endpoints": [
                    {"key": e.key, "label": e.label, "kind": e.kind, "method": e.method, "path": e.path,
                     "content_type": e.content_type, "failure": state.failures.get(e.key)}
                    for e in p.spec.endpoints
                ],
            }
            for p in processes
        ],
        "measurements": state.measurements,
        "processes": {"started": sorted(set(state.all_pids)), "left_running": state.leftover_pids},
    }
    result["summary"] = summarize(result)
    result["targets"] = targets_check(result)
    shutil.rmtree(work_dir, ignore_errors=True)
    return result


def _environment(*, generator: Any, env: dict[str, str]) -> dict[str, Any]:
    import importlib.metadata

    versions = {}
    for name in ("flask", "django", "gunicorn", "scikit-learn", "numpy", "pydantic"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return {
        "python": platform.python_version(), "platform": platform.platform(terse=True),
        "cpus": cpu_count(), "load_average_at_start": list(os.getloadavg()),
        "generator": generator.name, "mode": env.get("MLAPPS_MODE"), "versions": versions,
    }


def _cold_starts(*, state: RunState, options: CompareOptions, progress: Progress) -> None:
    """Start each server alone; the last start of each one stays up for the rounds.

    A server that does not start is stopped and reported; the others are still measured.
    """
    if options.parallel_start:
        for process in state.processes:
            process.start()
        outcomes = wait_all_ready(state.processes, timeout=options.start_timeout)
        for process, outcome in zip(state.processes, outcomes, strict=True):
            if isinstance(outcome, ServerStartError):
                _start_failed(state=state, process=process, error=outcome, progress=progress)
            else:
                state.cold_starts[process.spec.name] = [round(outcome, 3)]
        progress("servers started together (cold starts overlap)")
        return
    repeats = max(1, options.cold_starts)
    for process in state.processes:
        times = []
        for attempt in range(repeats):
            process.start()
            outcome = wait_all_ready([process], timeout=options.start_timeout)[0]
            if isinstance(outcome, ServerStartError):
                _start_failed(state=state, process=process, error=outcome, progress=progress)
                break
            times.append(outcome)
            if attempt < repeats - 1:
                process.stop()
        else:
            state.cold_starts[process.spec.name] = [round(t, 3) for t in times]
            progress(f"{process.spec.label}: up on port {process.port}, cold start "
                     f"{median_of(times):.2f} s ({', '.join(f'{t:.2f}' for t in times)})")


def _start_failed(*, state: RunState, process: ServerProcess, error: ServerStartError, progress: Progress) -> None:
    process.stop()
    reason = str(error).strip().splitlines()
    summary = reason[-1] if reason else "did not start"
    state.start_failures[process.spec.name] = str(error)
    for endpoint in process.spec.endpoints:
        state.failures[endpoint.key] = f"the server did not start: {summary}"
    progress(f"NOT STARTED {process.spec.label}: {summary}")


def _verify_and_warm(
    *, state: RunState, options: CompareOptions, generator: Any, progress: Progress
) -> list[tuple[ServerProcess, Endpoint]]:
    """Check each endpoint answers correctly before any load (a fast 404 must not look fast)."""
    targets = []
    for process in state.processes:
        if process.spec.name in state.start_failures:
            continue
        for endpoint in process.spec.endpoints:
            problem = endpoint.failure
            if problem is None:
                problem = answer_problem(answer=http_request(port=process.port, endpoint=endpoint), endpoint=endpoint)
            if problem is not None:
                state.failures[endpoint.key] = problem
                progress(f"NOT MEASURED {endpoint.key} {endpoint.method} {endpoint.path}: {problem}")
                continue
            if options.warmup > 0:
                generator.run(port=process.port, endpoint=endpoint, concurrency=max(options.concurrency),
                              duration=options.warmup)
            targets.append((process, endpoint))
    return targets


def _rounds(
    *, state: RunState, options: CompareOptions, generator: Any, targets: list[tuple[ServerProcess, Endpoint]],
    progress: Progress,
) -> None:
    for round_index in range(options.rounds):
        shift = round_index % max(1, len(targets))
        order = targets[shift:] + targets[:shift]  # rotated: no endpoint always runs first or last
        for process, endpoint in order:
            for concurrency in options.concurrency:
                pids = process.pids()
                server_cpu_before, machine_before = cpu_seconds(pids), machine_busy_seconds()
                load = generator.run(port=process.port, endpoint=endpoint, concurrency=concurrency,
                                     duration=options.duration)
                server_cpu = cpu_seconds(pids) - server_cpu_before
                machine = machine_busy_seconds() - machine_before
                state.measurements.append(
                    {
                        "round": round_index, "server": process.spec.name, "endpoint": endpoint.key,
                        "concurrency": concurrency, "requests": load.requests, "errors": load.errors,
                        "seconds": round(load.seconds, 4), "rps": round(load.rps, 2),
                        "p50_ms": round(load.p50_ms, 3), "p99_ms": round(load.p99_ms, 3),
                        "generator_cpu_s": round(load.generator_cpu_s, 4), "server_cpu_s": round(server_cpu, 4),
                        # everything else the machine ran meanwhile (other programs compete for the cores)
                        "other_cpu_s": round(max(0.0, machine - server_cpu - load.generator_cpu_s), 4),
                    }
                )
        progress(f"round {round_index + 1}/{options.rounds} done")


def _memory(*, state: RunState) -> None:
    for process in state.processes:
        if process.spec.name in state.start_failures:
            continue
        workers = process.worker_pids()
        per_worker = [memory_kib(pid) for pid in workers]
        master = memory_kib(process.pid)
        state.memory[process.spec.name] = {
            "workers": len(workers),
            "worker_rss_mib": [round(m.get("rss", 0) / 1024, 1) for m in per_worker],
            "worker_pss_mib": [round(m.get("pss", 0) / 1024, 1) for m in per_worker],
            "master_rss_mib": round(master.get("rss", 0) / 1024, 1),
            "total_pss_mib": round((master.get("pss", 0) + sum(m.get("pss", 0) for m in per_worker)) / 1024, 1),
        }


