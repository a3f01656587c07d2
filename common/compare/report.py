"""Medians, same-round ratios, the issue's targets, and the reports (markdown, JSON, SVG chart)."""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common.compare.servers import REPO_ROOT, display_argv, installed_apps

# Targets of the issue (checked in the benchmark, never in timed tests).
TARGET_SEED_VS_ARTICLE = 2.0
TARGET_MAIN_VS_HEALTH = 0.8
TARGET_P99_MS = 25.0
TARGET_CONCURRENCY = 8


def median_of(values: Sequence[float]) -> float:
    clean = [v for v in values if v == v]  # drop NaN
    return float(statistics.median(clean)) if clean else float("nan")


# --------------------------------------------------------------------------- summary and targets
def summarize(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per endpoint: medians over rounds at each concurrency, ratios to the floor and article."""
    measurements = result["measurements"]
    rows = []
    concurrencies = result["options"]["concurrency"]
    for server in result["servers"]:
        for endpoint in server["endpoints"]:
            row: dict[str, Any] = {
                "server": server["name"], "framework": server["framework"], "endpoint": endpoint["key"],
                "label": endpoint["label"], "kind": endpoint["kind"], "failure": endpoint["failure"],
            }
            for c in concurrencies:
                mine = [m for m in measurements if m["endpoint"] == endpoint["key"] and m["concurrency"] == c]
                row[f"rps_c{c}"] = median_of([m["rps"] for m in mine])
                row[f"p50_ms_c{c}"] = median_of([m["p50_ms"] for m in mine])
                row[f"p99_ms_c{c}"] = median_of([m["p99_ms"] for m in mine])
                row[f"errors_c{c}"] = sum(m["errors"] for m in mine)
                row[f"requests_c{c}"] = sum(m["requests"] for m in mine)
                row[f"cpu_ms_c{c}"] = median_of([_cpu_ms(m) for m in mine])
                row[f"vs_floor_c{c}"] = _ratio(measurements, endpoint["key"], "floor:post", c)
                row[f"vs_article_c{c}"] = _ratio(measurements, endpoint["key"], "article:seed", c)
            rows.append(row)
    return rows


def _cpu_ms(measurement: dict[str, Any]) -> float:
    """Server CPU milliseconds per request: what an endpoint costs, whatever share of the CPU it got."""
    cpu, requests = measurement.get("server_cpu_s"), measurement["requests"]
    return 1000.0 * cpu / requests if cpu is not None and requests else float("nan")


def round_ratios(measurements: list[dict[str, Any]], key: str, reference: str, concurrency: int) -> list[float]:
    """rps(key) / rps(reference) of each round, each pair from the same round."""
    by_round: dict[int, dict[str, float]] = {}
    for m in measurements:
        if m["concurrency"] == concurrency and m["endpoint"] in (key, reference):
            by_round.setdefault(m["round"], {})[m["endpoint"]] = m["rps"]
    return [by_round[r][key] / by_round[r][reference] for r in sorted(by_round)
            if by_round[r].get(reference) and key in by_round[r]]


def _ratio(measurements: list[dict[str, Any]], key: str, reference: str, concurrency: int) -> float:
    """Median over rounds of rps(key) / rps(reference), each pair from the same round."""
    return median_of(round_ratios(measurements, key, reference, concurrency))


def targets_check(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value and pass/fail (None when not measurable)."""
    c = TARGET_CONCURRENCY
    if c not in result["options"]["concurrency"]:
        return []
    rows = {row["endpoint"]: row for row in result["summary"]}
    checks = []
    for server in result["servers"]:
        if server["baseline"]:
            continue
        name = server["name"]
        seed = rows.get(f"{name}:seed")
        article = rows.get("article:seed")
        if seed is not None:
            rounds = round_ratios(result["measurements"], seed["endpoint"], "article:seed", c)
            by_cpu = article[f"cpu_ms_c{c}"] / seed[f"cpu_ms_c{c}"] if article else float("nan")
            checks.append(_check(f"{name} ({server['framework']}) seed predict vs article-style baseline, c={c}",
                                 median_of(rounds), TARGET_SEED_VS_ARTICLE, "x", higher=True, by_cpu=by_cpu,
                                 rounds=rounds))
        main = rows.get(f"{name}:domain") or seed
        health = rows.get(f"{name}:health")
        if main is not None and health is not None:
            rounds = round_ratios(result["measurements"], main["endpoint"], health["endpoint"], c)
            by_cpu = health[f"cpu_ms_c{c}"] / main[f"cpu_ms_c{c}"]
            checks.append(_check(f"{name} {main['label']} vs its /healthz, c={c}", median_of(rounds),
                                 TARGET_MAIN_VS_HEALTH, "x", higher=True, by_cpu=by_cpu, rounds=rounds))
        for endpoint in server["endpoints"]:
            row = rows[endpoint["key"]]
            if row["kind"] in ("seed", "domain"):
                checks.append(_check(f"{name} {row['label']} p99 at c={c}", row[f"p99_ms_c{c}"], TARGET_P99_MS,
                                     "ms", higher=False))
    return checks


def _check(
    name: str, value: float, target: float, unit: str, *, higher: bool, by_cpu: float | None = None,
    rounds: Sequence[float] = (),
) -> dict[str, Any]:
    """A target; `by_cpu` is the same ratio from server CPU per request (robust to a busy machine), `rounds`
    the ratio in each round (its lowest and highest show how far one round can be from the median)."""
    measured = value == value  # not NaN
    passed = (value >= target if higher else value <= target) if measured else None
    goal = f"{'>=' if higher else '<='} {target:g}{unit}"
    cpu = by_cpu if by_cpu is not None and by_cpu == by_cpu else None
    clean = [r for r in rounds if r == r]
    spread = [min(clean), max(clean)] if clean else None
    return {"target": name, "value": value if measured else None, "goal": goal, "passed": passed, "by_cpu": cpu,
            "rounds": len(clean), "round_range": spread}


# --------------------------------------------------------------------------- reports
def _fmt(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def results_table(result: dict[str, Any]) -> str:
    """The markdown table of every endpoint (what README carries)."""
    concurrencies = result["options"]["concurrency"]
    header = ["server", "endpoint"]
    for c in concurrencies:
        header += [f"req/s c={c}", f"p50 ms c={c}", f"p99 ms c={c}"]
    header += ["errors", f"x floor c={concurrencies[-1]}", f"x article c={concurrencies[-1]}",
               f"server CPU ms/request c={concurrencies[-1]}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    last = concurrencies[-1]
    for row in result["summary"]:
        server = next(s for s in result["servers"] if s["name"] == row["server"])
        cells = [server["label"], f"{row['label']}" + (" (not measured)" if row["failure"] else "")]
        for c in concurrencies:
            cells += [_fmt(row[f"rps_c{c}"]), _fmt(row[f"p50_ms_c{c}"], 2), _fmt(row[f"p99_ms_c{c}"], 2)]
        errors = sum(row[f"errors_c{c}"] for c in concurrencies)
        cells += [str(errors), _fmt(row[f"vs_floor_c{last}"], 2), _fmt(row[f"vs_article_c{last}"], 2),
                  _fmt(row.get(f"cpu_ms_c{last}"), 2)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def servers_table(result: dict[str, Any]) -> str:
    lines = ["| server | cold start s (median) | workers | RSS MiB per worker | PSS MiB per worker | total PSS MiB |",
             "|---|---|---|---|---|---|"]
    for server in result["servers"]:
        if server.get("start_failure"):
            lines.append(f"| {server['label']} | did not start | - | - | - | - |")
            continue
        memory = server["memory"]
        rss = median_of(memory.get("worker_rss_mib", []))
        pss = median_of(memory.get("worker_pss_mib", []))
        cold = _fmt(median_of(server["cold_start_s"]), 2)
        ended_by = next((e for e in server["endpoints"] if e["key"] == server.get("cold_start_endpoint")), None)
        if ended_by is not None and ended_by["kind"] == "health":
            cold += " (to /healthz: no model)"
        lines.append(
            f"| {server['label']} | {cold} | {memory.get('workers', '-')} | "
            f"{_fmt(rss, 1)} | {_fmt(pss, 1)} | {_fmt(memory.get('total_pss_mib'), 1)} |"
        )
    return "\n".join(lines)


def targets_table(result: dict[str, Any]) -> str:
    """Each target: measured on requests/s (what decides met/MISSED) and, for ratios, on server CPU per request."""
    lines = ["| target | measured | goal | | lowest-highest round | same ratio from server CPU per request |",
             "|---|---|---|---|---|---|"]
    for check in result["targets"]:
        mark = {True: "met", False: "MISSED", None: "not measured"}[check["passed"]]
        value = "-" if check["value"] is None else f"{check['value']:.2f}"
        spread = check.get("round_range")
        rounds = f"{spread[0]:.2f}-{spread[1]:.2f} ({check['rounds']})" if spread and check["rounds"] > 1 else ""
        by_cpu = "" if check.get("by_cpu") is None else f"{check['by_cpu']:.2f}"
        lines.append(f"| {check['target']} | {value} | {check['goal']} | {mark} | {rounds} | {by_cpu} |")
    return "\n".join(lines)


def generator_note(result: dict[str, Any]) -> str:
    """Is the load generator the bottleneck, and did other programs compete for the CPU?

    Checked against the floor in the same run: a generator that drives the bare
    WSGI app well above every app endpoint, without using its own cores up, is
    not what limits the apps.
    """
    generator_name = result["options"]["generator"]
    floor = [m for m in result["measurements"] if m["endpoint"] == "floor:post"]
    if not floor:
        return f"Load generator: {generator_name}. The floor was not measured in this run."
    c = max(m["concurrency"] for m in floor)
    at_c = [m for m in floor if m["concurrency"] == c]
    generator = median_of([m["generator_cpu_s"] / m["seconds"] for m in at_c if m["seconds"]])
    server = median_of([m["server_cpu_s"] / m["seconds"] for m in at_c if m["seconds"]])
    floor_rps = median_of([m["rps"] for m in at_c])
    cpus = result["environment"]["cpus"]
    capacity = 1 if generator_name == "wrk" else min(c, cpus)  # wrk runs one thread
    text = (
        f"Load generator: {generator_name}. At the floor (c={c}) it used {generator:.2f} of the "
        f"{capacity} core(s) it can use, the server {server:.2f} of {cpus}; the floor reached {floor_rps:,.0f} req/s"
    )
    others = [r for r in result["summary"] if r["kind"] != "floor" and r.get(f"rps_c{c}") == r.get(f"rps_c{c}")]
    if others:
        fastest = max(others, key=lambda r: r[f"rps_c{c}"])
        headroom = floor_rps / fastest[f"rps_c{c}"] if fastest[f"rps_c{c}"] else float("inf")
        text += f", {headroom:.1f}x the fastest other endpoint ({fastest['server']} {fastest['label']})"
    saturated = generator >= 0.8 * capacity
    text += ". " + ("WARNING: the generator is close to saturation and may limit the fastest endpoints."
                    if saturated else "The generator is not the bottleneck.")
    other = median_of([m["other_cpu_s"] / m["seconds"] for m in result["measurements"]
                       if m.get("other_cpu_s") is not None and m["seconds"]])
    if other == other:
        text += f" Other programs on the machine used {other:.2f} of the {cpus} cores during the measurements"
        text += (": absolute numbers are low and noisy; compare the same-round ratios and the CPU cost per request."
                 if other > 0.25 * cpus else ".")
    return text


def markdown_report(result: dict[str, Any], *, chart_name: str | None) -> str:
    options = result["options"]
    environment = result["environment"]
    versions = ", ".join(f"{k} {v}" for k, v in environment["versions"].items())
    lines = [
        "# Flask and Django deployments compared",
        "",
        f"Run {result['started']} ({result['seconds']:.0f} s): {environment['cpus']} CPUs, Python "
        f"{environment['python']}, {versions}; {options['workers']} sync gunicorn workers per server, "
        f"1 BLAS/OpenMP thread each, preload on, access log {options['access_log']}, mode {environment['mode']}. "
        f"{options['rounds']} interleaved rounds of {options['duration_s']:g} s per endpoint and concurrency; "
        "medians over rounds; ratios are medians of same-round ratios. Load average at start: "
        + ", ".join(f"{x:.2f}" for x in environment["load_average_at_start"]) + ".",
        "",
        generator_note(result),
        "",
        "## Throughput and latency",
        "",
        results_table(result),
        "",
    ]
    if chart_name:
        lines += [f"![requests per second and p99 latency]({chart_name})", ""]
    lines += ["## Targets", "", targets_table(result), "", "## Start-up and memory", "", servers_table(result), "",
              "Cold start: process start to the first correct prediction (the floor: first answer). "
              "PSS divides pages shared with the preloaded master among the processes sharing them.", ""]
    failures = [(e["key"], e["failure"]) for s in result["servers"] for e in s["endpoints"] if e["failure"]]
    if failures:
        lines += ["## Not measured", ""] + [f"- `{key}`: {why}" for key, why in failures] + [""]
    lines += ["## Commands", ""] + [f"- {s['label']}: `{s['command']}`" for s in result["servers"]] + [""]
    side = side_by_side()
    if side:
        lines += ["## The two frameworks as used here", "", side, ""]
    return "\n".join(lines)


def chart_write(result: dict[str, Any], *, path: Path) -> bool:
    """Requests/s and p99 at the highest concurrency, one bar per endpoint (SVG, matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = result["options"]["concurrency"][-1]
    rows = [r for r in result["summary"] if not r["failure"] and r[f"rps_c{c}"] == r[f"rps_c{c}"]]
    if not rows:
        return False
    labels = [f"{r['server']}: {r['label']}" for r in rows]
    colours = {"WSGI": "#888888", "Flask": "#1f77b4", "Django": "#2ca02c"}
    colour = [colours.get(r["framework"], "#9467bd") if r["server"] != "article" else "#d62728" for r in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 0.45 * len(rows) + 1.6), sharey=True)
    positions = list(range(len(rows)))[::-1]
    bars = left.barh(positions, [r[f"rps_c{c}"] for r in rows], color=colour)
    left.bar_label(bars, labels=[f"{r[f'rps_c{c}']:,.0f}" for r in rows], padding=3, fontsize=8)
    left.margins(x=0.15)
    left.set_xlabel(f"requests/s at concurrency {c} (median)")
    left.set_yticks(positions, labels)
    bars = right.barh(positions, [r[f"p99_ms_c{c}"] for r in rows], color=colour)
    right.bar_label(bars, labels=[f"{r[f'p99_ms_c{c}']:.1f}" for r in rows], padding=3, fontsize=8)
    right.margins(x=0.15)
    right.axvline(TARGET_P99_MS, color="#d62728", linestyle="--", linewidth=1)
    p99s = [r[f"p99_ms_c{c}"] for r in rows if r[f"p99_ms_c{c}"] > 0]
    if p99s and max(p99s) / min(p99s) > 30:
        right.set_xscale("log")  # milliseconds next to hundreds of milliseconds
    right.set_xlabel(f"p99 latency ms at concurrency {c} (target {TARGET_P99_MS:g} ms)")
    for axis in (left, right):
        axis.grid(axis="x", alpha=0.3)
    figure.suptitle(f"gunicorn, {result['options']['workers']} sync workers, {result['environment']['cpus']} CPUs, "
                    f"{result['options']['generator']}", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".svg":
        figure.savefig(path, format="svg", metadata={"Date": None})  # no timestamp: diffs show real changes
    else:
        figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def reports_write(result: dict[str, Any], *, out_dir: Path, name: str = "compare") -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{name}.json", "md": out_dir / f"{name}.md", "svg": out_dir / f"{name}.svg"}
    paths["json"].write_text(json.dumps(result, indent=2, default=str) + "\n")
    chart = chart_write(result, path=paths["svg"])
    paths["md"].write_text(markdown_report(result, chart_name=paths["svg"].name if chart else None))
    if not chart:
        del paths["svg"]
    return paths


# --------------------------------------------------------------------------- the frameworks side by side
def code_lines(package: str) -> int:
    """Non-blank, non-comment lines of Python, templates, JS and CSS in a package folder."""
    root = REPO_ROOT / package
    total = 0
    for path in root.rglob("*"):
        skipped = "__pycache__" in path.parts or "migrations" in path.parts
        if path.suffix not in (".py", ".html", ".js", ".css") or skipped:
            continue
        for line in path.read_text(errors="replace").splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith(("#", "//")):
                total += 1
    return total


def imported_distributions(package: str) -> list[str]:
    """Third-party distributions a package imports (read from its import statements)."""
    import importlib.metadata

    mapping = importlib.metadata.packages_distributions()
    own = {"common", "credit_flask", "maintenance_flask", "recommender_django", "mlapps_flask", package}
    found: set[str] = set()
    for path in (REPO_ROOT / package).rglob("*.py"):
        for match in re.finditer(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", path.read_text(errors="replace"), re.M):
            top = match.group(1)
            if top in own or top in sys.stdlib_module_names:
                continue
            found.update(mapping.get(top, []))
    return sorted(found, key=str.lower)


# What each framework gave these apps, as they are written (checked against the code when this was written:
# credit_flask and maintenance_flask on mlapps_flask; recommender_django on Django + django-ninja).
FRAMEWORK_FEATURES: tuple[tuple[str, str, str], ...] = (
    ("ORM", "none from Flask: SQLAlchemy Core tables (common/db.py, decision log, telemetry store)",
     "Django ORM: models, migrations, selectors/services"),
    ("admin", "none: the apps' own pages (model card, monitoring, fleet)",
     "django.contrib.admin for movies, ratings, model versions, training runs"),
    ("forms", "request.form read into the same pydantic schemas as the API", "Django forms (sign-up, rating)"),
    ("CSRF", "Flask-WTF CSRFProtect, installed by mlapps_flask", "built in (CsrfViewMiddleware)"),
    ("templates", "Jinja2 (built in)", "Django templates (built in)"),
    ("OpenAPI", "our own: mlapps_flask builds it from the pydantic schemas; Swagger UI from swagger-ui-bundle",
     "django-ninja: schemas, validation and /api/docs"),
    ("configuration", "`create_app()` factory; MLAPPS_ environment via common.settings; test overrides",
     "settings modules base / development / production / test, values from common.settings"),
    ("before serving", "`flask init-db` (tables)", "`migrate`, `load_movielens`, `train_recommender`"),
)


def side_by_side() -> str:
    """Lines of code, dependencies, start-up and what each framework gave us, per installed app."""
    from common.apps import APPS

    apps = [APPS[name] for name in installed_apps()]
    if not apps:
        return ""
    lines = ["| | " + " | ".join(f"{a.name} ({a.framework})" for a in apps) + " |",
             "|---|" + "|".join("---" for _ in apps) + "|"]
    lines.append("| lines of code (py, html, js, css) | " + " | ".join(str(code_lines(a.package)) for a in apps) + " |")
    imports = [", ".join(imported_distributions(a.package)) or "-" for a in apps]
    lines.append("| third-party imports | " + " | ".join(imports) + " |")
    lines.append("| production start | " + " | ".join(f"`mlapps serve {a.name} --prod`" for a in apps) + " |")
    dev = [f"`{display_argv(a.dev_argv(port=a.port))}`" for a in apps]
    lines.append("| development start | " + " | ".join(dev) + " |")
    shared = code_lines("mlapps_flask") if (REPO_ROOT / "mlapps_flask").is_dir() else 0
    common_lines = code_lines("common")
    lines += ["", f"Shared by all three: the framework-free core `common/` ({common_lines} lines)."
              + (f" Both Flask apps also use the glue package `mlapps_flask` ({shared} lines)." if shared else "")]
    frameworks = sorted({a.framework for a in apps})
    if frameworks == ["Django", "Flask"]:
        lines += ["", "| what the framework gave us | Flask | Django |", "|---|---|---|"]
        lines += [f"| {topic} | {flask} | {django} |" for topic, flask, django in FRAMEWORK_FEATURES]
    return "\n".join(lines)


