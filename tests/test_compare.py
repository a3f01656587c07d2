"""`mlapps compare`: a short smoke run of the real harness, plus its parsing, ratios and targets.

The full comparison (seconds per endpoint, several rounds) is `make compare`; here
every server runs for a fraction of a second, and nothing asserts a timing.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from common import compare
from common.settings import Settings
from tests.support.seed import seed_install, seed_trained

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:18901/predict
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    13.09ms   11.01ms  68.81ms   84.00%
    Req/Sec   701.96    572.27     2.08k    84.00%
  Latency Distribution
     50%  845.00us
     75%   19.41ms
     90%   28.89ms
     99%    1.20s
  3523 requests in 5.08s, 626.30KB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:    693.01
Transfer/sec:    123.20KB
"""


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real run: every installed server and both baselines, a fraction of a second each."""
    root = tmp_path_factory.mktemp("compare")
    trained_root, _ = seed_trained(root=tmp_path_factory.mktemp("seed"))
    monkeypatch = pytest.MonkeyPatch()
    store = root / "models"
    monkeypatch.setenv("MLAPPS_MODEL_STORE_DIR", str(store))
    monkeypatch.setenv("MLAPPS_VAR_DIR", str(root / "var"))
    monkeypatch.setenv("MLAPPS_DATA_CACHE_DIR", str(root / "cache"))
    monkeypatch.setenv("MLAPPS_ALLOW_DOWNLOAD", "0")
    from common.settings import get_settings

    get_settings.cache_clear()
    try:
        seed_install(trained_root=trained_root, store=store)
        options = compare.CompareOptions(
            duration=0.3, rounds=1, cold_starts=1, warmup=0.0, workers=1, generator="python",
            out_dir=root / "reports", prepare=False, parallel_start=True, start_timeout=90,
        )
        messages: list[str] = []
        result = compare.compare_run(options=options, progress=messages.append)
        result["paths"] = {k: str(v) for k, v in compare.reports_write(result, out_dir=options.out_dir).items()}
        result["messages"] = messages
        return result
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_smoke_run_starts_every_server_and_measures_every_endpoint(smoke_run: dict[str, Any]) -> None:
    names = [server["name"] for server in smoke_run["servers"]]
    assert names[:2] == ["floor", "article"]
    assert set(names[2:]) == set(compare.installed_apps())
    for server in smoke_run["servers"]:
        assert server["start_failure"] is None, server["start_failure"]
        assert len(server["cold_start_s"]) == 1 and server["cold_start_s"][0] > 0, server["name"]
        assert server["memory"]["workers"] == 1
        assert server["memory"]["worker_rss_mib"][0] > 5
        for endpoint in server["endpoints"]:
            # Only the apps' own models are not trained here (prepare=False): their domain endpoints
            # are reported as not measured, with the reason.
            if endpoint["kind"] == "domain" and endpoint["failure"] is not None:
                assert "no request body" in endpoint["failure"] or "HTTP 503" in endpoint["failure"]
            else:
                assert endpoint["failure"] is None, (endpoint["key"], endpoint["failure"])
    measured = {(m["endpoint"], m["concurrency"]) for m in smoke_run["measurements"]}
    every = {(e["key"], c) for s in smoke_run["servers"] for e in s["endpoints"] for c in (1, 8)
             if e["failure"] is None}
    assert measured == every
    kinds = {e["kind"] for s in smoke_run["servers"] for e in s["endpoints"] if e["failure"] is None}
    assert {"floor", "article"} <= kinds
    if compare.installed_apps():
        assert {"health", "seed"} <= kinds
    for m in smoke_run["measurements"]:
        assert m["requests"] > 0 and m["errors"] == 0, m


def test_smoke_run_stops_every_process_it_started(smoke_run: dict[str, Any]) -> None:
    started = smoke_run["processes"]["started"]
    # each server: the master and its worker
    assert len(started) >= 2 * len(smoke_run["servers"])
    assert smoke_run["processes"]["left_running"] == []
    assert [pid for pid in started if compare.pid_running(pid)] == []


def test_smoke_run_writes_the_report_json_and_chart(smoke_run: dict[str, Any]) -> None:
    paths = {kind: Path(path) for kind, path in smoke_run["paths"].items()}
    report = paths["md"].read_text()
    assert "| bare WSGI (HTTP floor) | bare WSGI POST |" in report
    assert "| article-style Flask | seed predict (article style) |" in report
    assert "## Targets" in report and "Load generator: python" in report
    stored = json.loads(paths["json"].read_text())
    assert stored["options"]["generator"].startswith("python")
    assert {row["endpoint"] for row in stored["summary"]} >= {"floor:post", "article:seed"}
    assert paths["svg"].read_text().lstrip().startswith("<?xml")


def test_apps_are_started_exactly_as_mlapps_serve_prod_starts_them() -> None:
    from common.apps import APPS

    for name, app in APPS.items():
        spec = compare.app_server(app_name=name, token=None)
        assert spec.argv(port=5123) == app.prod_argv(port=5123, host="127.0.0.1")


# --------------------------------------------------------------------------- pieces
def test_wrk_output_is_read_with_units_and_every_kind_of_error() -> None:
    parsed = compare.parse_wrk_output(WRK_OUTPUT)
    assert parsed["requests"] == 3523
    assert parsed["seconds"] == pytest.approx(5.08)
    assert parsed["p50_ms"] == pytest.approx(0.845)
    assert parsed["p99_ms"] == pytest.approx(1200.0)
    assert parsed["errors"] == 7


def test_wrk_script_escapes_the_body_and_headers() -> None:
    endpoint = compare.Endpoint(
        key="x:y", label="y", kind="seed", method="POST", path="/p", body=b'{"a": "b\\"c"}\n',
        content_type="application/json", headers=(("Authorization", "Bearer t0k=n"),),
    )
    script = compare.wrk_script(endpoint)
    assert 'wrk.method = "POST"' in script
    assert '\\034' in script and '\\010' in script  # quote and newline escaped as decimal bytes
    assert 'wrk.headers["Authorization"] = "Bearer t0k\\061n"' in script


def _fake_result(rps: dict[tuple[str, int], list[float]], p99: float = 10.0) -> dict[str, Any]:
    servers = [
        {"name": "floor", "label": "floor", "framework": "WSGI", "baseline": True,
         "endpoints": [{"key": "floor:post", "label": "post", "kind": "floor", "failure": None}]},
        {"name": "article", "label": "article", "framework": "Flask", "baseline": True,
         "endpoints": [{"key": "article:seed", "label": "seed", "kind": "article", "failure": None}]},
        {"name": "credit", "label": "credit (Flask)", "framework": "Flask", "baseline": False,
         "endpoints": [{"key": "credit:health", "label": "healthz", "kind": "health", "failure": None},
                       {"key": "credit:seed", "label": "seed predict", "kind": "seed", "failure": None}]},
    ]
    measurements = [
        {"round": r, "endpoint": key, "concurrency": c, "rps": value, "p50_ms": 1.0, "p99_ms": p99,
         "errors": 0, "requests": 100}
        for (key, c), values in rps.items() for r, value in enumerate(values)
    ]
    result = {"servers": servers, "measurements": measurements, "options": {"concurrency": [1, 8]}}
    result["summary"] = compare.summarize(result)
    return result


def test_ratios_pair_measurements_of_the_same_round() -> None:
    # The machine got twice as fast in round 1: same-round ratios stay at 2.5.
    result = _fake_result({
        ("floor:post", 8): [1000, 2000, 1000], ("article:seed", 8): [200, 400, 200],
        ("credit:seed", 8): [500, 1000, 500], ("credit:health", 8): [600, 1200, 600],
    })
    row = next(r for r in result["summary"] if r["endpoint"] == "credit:seed")
    assert row["vs_article_c8"] == pytest.approx(2.5)
    assert row["vs_floor_c8"] == pytest.approx(0.5)
    assert row["rps_c8"] == 500


def test_targets_report_met_and_missed_goals() -> None:
    result = _fake_result({
        ("floor:post", 8): [1000], ("article:seed", 8): [250],
        ("credit:seed", 8): [450], ("credit:health", 8): [500],
    }, p99=30.0)
    checks = {c["target"]: c for c in compare.targets_check(result)}
    seed = checks["credit (Flask) seed predict vs article-style baseline, c=8"]
    assert seed["value"] == pytest.approx(1.8) and seed["passed"] is False
    main = checks["credit seed predict vs its /healthz, c=8"]
    assert main["value"] == pytest.approx(0.9) and main["passed"] is True
    assert checks["credit seed predict p99 at c=8"]["passed"] is False
    assert "MISSED" in compare.targets_table({"targets": list(checks.values())})


def test_ratio_targets_show_their_lowest_and_highest_round() -> None:
    # A noisy machine: the verdict is the median of same-round ratios, and the table says how far rounds strayed.
    result = _fake_result({
        ("floor:post", 8): [1000, 1000, 1000], ("article:seed", 8): [250, 200, 250],
        ("credit:seed", 8): [450, 500, 700], ("credit:health", 8): [500, 500, 1000],
    })
    checks = {c["target"]: c for c in compare.targets_check(result)}
    main = checks["credit seed predict vs its /healthz, c=8"]
    assert main["value"] == pytest.approx(0.9) and main["passed"] is True
    assert main["round_range"] == pytest.approx([0.7, 1.0]) and main["rounds"] == 3
    seed = checks["credit (Flask) seed predict vs article-style baseline, c=8"]
    assert seed["value"] == pytest.approx(2.5) and seed["round_range"] == pytest.approx([1.8, 2.8])
    table = compare.targets_table({"targets": list(checks.values())})
    assert "| 0.90 | >= 0.8x | met | 0.70-1.00 (3) |" in table
    assert "| 2.50 | >= 2x | met | 1.80-2.80 (3) |" in table


def test_python_generator_measures_a_real_server(tmp_path: Path) -> None:
    spec = compare.baseline_servers(seed_model_file=None)[0]
    env = compare.server_environment(options=compare.CompareOptions(workers=1))
    process = compare.ServerProcess(spec=spec, env=env, log_dir=tmp_path)
    process.start()
    try:
        process.wait_ready(timeout=60)
        with compare.PythonGenerator(processes=2) as generator:
            load = generator.run(port=process.port, endpoint=spec.endpoints[0], concurrency=2, duration=0.3)
    finally:
        process.stop()
    assert load.requests > 10 and load.errors == 0
    assert 0 < load.p50_ms <= load.p99_ms
    assert process.leftover_pids() == []


def test_gunicorn_base_pins_threads_and_turns_the_access_log_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS"):
        monkeypatch.setenv(name, "8")  # a shell's setting must not survive: N workers x 8 threads
    monkeypatch.setenv("MLAPPS_ACCESS_LOG", "off")
    monkeypatch.setenv("MLAPPS_WORKERS", "3")
    import common.gunicorn_base as base

    base = importlib.reload(base)
    import os

    assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert base.accesslog is None and base.workers == 3 and base.preload_app is True
    assert base.worker_class == "sync" and base.control_socket_disable is True
    monkeypatch.setenv("MLAPPS_ACCESS_LOG", "-")
    assert importlib.reload(base).accesslog == "-"


def test_compare_is_a_cli_command(isolated_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from common.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["compare", "--help"])
    assert exited.value.code == 0
    assert "--concurrency" in capsys.readouterr().out
