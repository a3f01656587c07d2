"""API fuzzing of every app, served for real: `make fuzz` (>= 500 examples per operation).

For each installed app: train its models (quick) into a temporary store, prepare its
database, create an API token, serve it with its production gunicorn config, validate its
OpenAPI document (openapi-spec-validator), then run the Schemathesis CLI against it::

    schemathesis run URL/openapi.json \\
        --checks not_a_server_error,status_code_conformance,response_schema_conformance \\
        --max-examples N -H "Authorization: Bearer TOKEN"

Every phase runs (examples, coverage, fuzzing, stateful).  The counts come from
Schemathesis' own reports (JSON and NDJSON): test cases per operation, failures by
check, operations tested.  Prints a table and writes reports/fuzz.json; exits 1 on any
failure.  `make test` runs the same code with a few tens of examples per operation
(tests/reliability/test_fuzz.py).

    python benchmarks/fuzz.py [--apps credit ...] [--max-examples 500] [--seed 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.reliability_env import (  # noqa: E402
    APP_NAMES, REPO_ROOT, app_prepare, app_serve, cli_apps, cli_progress, http_call, report_write, token_create,
)

CHECKS = ("not_a_server_error", "status_code_conformance", "response_schema_conformance")
FULL_EXAMPLES = 500


@dataclasses.dataclass
class FuzzResult:
    """What one Schemathesis run found, from its own reports."""

    app: str
    max_examples: int
    exit_code: int
    seconds: float
    operations_selected: int
    operations_tested: int
    operations_errored: int
    generated: int  # test cases generated, every phase
    cases_by_operation: dict[str, int]  # "METHOD /path" -> test cases sent (examples + coverage + fuzzing)
    fuzzing_by_operation: dict[str, int]  # the fuzzing phase alone (bounded by max_examples)
    stateful_cases: int
    failures: list[dict[str, Any]]  # {code, title, count, operations}
    errors: list[Any]
    warnings: dict[str, Any]  # Schemathesis' warnings that are not empty (e.g. missing test data)
    output_tail: str  # the CLI's FAILURES / SUMMARY text

    @property
    def failure_count(self) -> int:
        return sum(int(f.get("count", 1)) for f in self.failures)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.failures and not self.errors and self.operations_errored == 0

    def describe(self) -> str:
        """The failures as Schemathesis printed them (for assertion messages and the console)."""
        lines = [f"{self.app}: exit {self.exit_code}, {self.failure_count} failure(s), {len(self.errors)} error(s)"]
        for failure in self.failures:
            lines.append(f"  {failure.get('code')} {failure.get('title')}: {', '.join(failure.get('operations', []))}")
        for error in self.errors:
            lines.append(f"  error: {json.dumps(error)[:500]}")
        lines.append(self.output_tail)
        return "\n".join(lines)

    def merged(self, other: FuzzResult) -> FuzzResult:
        """This run and a later top-up run of some operations, counted together."""

        def added(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            return {key: a.get(key, 0) + b.get(key, 0) for key in {**a, **b}}

        return dataclasses.replace(
            self, exit_code=max(self.exit_code, other.exit_code), seconds=round(self.seconds + other.seconds, 1),
            operations_errored=self.operations_errored + other.operations_errored,
            generated=self.generated + other.generated,
            cases_by_operation=added(self.cases_by_operation, other.cases_by_operation),
            fuzzing_by_operation=added(self.fuzzing_by_operation, other.fuzzing_by_operation),
            stateful_cases=self.stateful_cases + other.stateful_cases,
            failures=self.failures + other.failures, errors=self.errors + other.errors,
            warnings={**self.warnings, **other.warnings},
            output_tail=self.output_tail if not other.failures and not other.errors else other.output_tail,
        )

    def as_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["failure_count"] = self.failure_count
        data["min_cases_per_operation"] = min(self.cases_by_operation.values(), default=0)
        data["operations_below_max_examples"] = sorted(
            op for op, n in self.cases_by_operation.items() if n < self.max_examples
        )
        return data


def openapi_fetch(base_url: str, path: str) -> dict[str, Any]:
    reply = http_call(base_url, "GET", path, timeout=30)
    if reply.status != 200:
        raise RuntimeError(f"GET {path} answered {reply.status or reply.error}: {reply.text[:500]}")
    return reply.json()


def openapi_problems(document: dict[str, Any]) -> list[str]:
    """Why `document` breaks the OpenAPI specification (empty when it validates)."""
    from openapi_spec_validator import validate

    try:
        validate(document)
    except Exception as exc:  # the validator raises several error types on a broken document
        return [f"{type(exc).__name__}: {str(exc)[:1000]}"]
    return []


def schemathesis_executable() -> list[str]:
    candidate = Path(sys.executable).with_name("schemathesis")
    if candidate.exists():
        return [str(candidate)]
    return [sys.executable, "-m", "schemathesis.cli"]


def fuzz_run(
    *, app: str, base_url: str, openapi_path: str, token: str | None, max_examples: int, work_dir: Path,
    seed: int | None = 1, timeout: float | None = None, extra_args: tuple[str, ...] = (),
) -> FuzzResult:
    """Run the Schemathesis CLI once against a served app and read its reports."""
    report_dir = work_dir / f"schemathesis-{app}-{int(time.time() * 1000)}"
    report_dir.mkdir(parents=True)
    json_path, ndjson_path = report_dir / "run.json", report_dir / "events.ndjson"
    argv = [
        *schemathesis_executable(), "run", f"{base_url}{openapi_path}",
        "--checks", ",".join(CHECKS), "--max-examples", str(max_examples),
        "--report", "json,ndjson", "--report-json-path", str(json_path), "--report-ndjson-path", str(ndjson_path),
        "--no-color", "--generation-database", "none", "--request-timeout", "30",
        "--output-truncate", "true",
    ]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    if seed is not None:
        argv += ["--seed", str(seed)]
    argv += list(extra_args)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"}
    started = time.monotonic()
    completed = subprocess.run(
        argv, cwd=report_dir, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        stdin=subprocess.DEVNULL,
    )
    seconds = time.monotonic() - started
    output = completed.stdout + completed.stderr
    if not json_path.exists():
        raise RuntimeError(f"schemathesis wrote no report (exit {completed.returncode}):\n{output[-4000:]}")
    report = json.loads(json_path.read_text())
    cases, fuzzing, stateful = _cases_from_events(ndjson_path)
    operations = report.get("operations", {})
    tail_from = output.find("=== FAILURES")
    if tail_from < 0:
        tail_from = output.find("=== SUMMARY")
    return FuzzResult(
        app=app, max_examples=max_examples, exit_code=completed.returncode, seconds=round(seconds, 1),
        operations_selected=int(operations.get("selected", 0)), operations_tested=int(operations.get("tested", 0)),
        operations_errored=int(operations.get("errored", 0)),
        generated=int(report.get("test_cases", {}).get("generated", 0)),
        cases_by_operation=cases, fuzzing_by_operation=fuzzing, stateful_cases=stateful,
        failures=list(report.get("failures", [])), errors=list(report.get("errors", [])),
        warnings={k: v for k, v in (report.get("warnings") or {}).items() if v},
        output_tail=output[tail_from:][-6000:] if tail_from >= 0 else output[-3000:],
    )


def _cases_from_events(path: Path) -> tuple[dict[str, int], dict[str, int], int]:
    """Test cases per operation (examples, coverage, fuzzing phases), fuzzing alone, and stateful cases."""
    cases: dict[str, int] = {}
    fuzzing: dict[str, int] = {}
    stateful = 0
    if not path.exists():
        return cases, fuzzing, stateful
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith('{"ScenarioFinished"'):
                continue
            event = json.loads(line)["ScenarioFinished"]
            recorder = event.get("recorder") or {}
            count = len(recorder.get("cases") or {})
            if event.get("phase") == "stateful":
                stateful += count
                continue
            label = recorder.get("label", "?")
            cases[label] = cases.get(label, 0) + count
            if event.get("phase") == "fuzzing":
                fuzzing[label] = fuzzing.get(label, 0) + count
    return cases, fuzzing, stateful


# --------------------------------------------------------------------------- the benchmark
def app_fuzz(*, name: str, root: Path, max_examples: int, seed: int | None, quick: bool,
             progress: Any, extra_args: tuple[str, ...] = ()) -> dict[str, Any]:
    prepared = app_prepare(name=name, root=root / name, quick=quick, progress=progress)
    profile = prepared.profile
    with app_serve(prepared, workers=None) as server:  # the production config's worker count
        document = openapi_fetch(server.base_url, profile.openapi_path)
        problems = openapi_problems(document)
        progress(f"{name}: OpenAPI {document.get('openapi')} {'valid' if not problems else 'INVALID'}; "
                 f"fuzzing with {max_examples} examples per operation")
        result = fuzz_run(
            app=name, base_url=server.base_url, openapi_path=profile.openapi_path, token=prepared.token,
            max_examples=max_examples, work_dir=root, seed=seed, extra_args=extra_args,
        )
        with_inputs = operations_with_inputs(document)
        # Inside a whole-API run Schemathesis can stop an operation's fuzzing early: seen on
        # DELETE /api/ratings/{movie_id} once the stateful phase has left ratings behind (a deletion
        # answered 204 and then 404 for the same example). Each such operation runs again on its own,
        # as a fresh API client (its own token, so no leftover state), to reach the count.
        short = sorted(op for op in with_inputs if result.cases_by_operation.get(op, 0) < max_examples)
        for number, operation in enumerate(short, start=1):
            method, path = operation.split(" ", 1)
            progress(f"{name}: {operation} had {result.cases_by_operation.get(operation, 0)} cases; topping up")
            result = result.merged(fuzz_run(
                app=name, base_url=server.base_url, openapi_path=profile.openapi_path,
                token=token_create(prepared, owner=f"fuzz-top-up-{number}"),
                max_examples=max_examples, work_dir=root, seed=seed,
                extra_args=(*extra_args, "--include-method", method, "--include-path", path),
            ))
        server_errors = [line for line in server.log_text().splitlines() if "Traceback" in line]
    counts = result.cases_by_operation
    return {
        **result.as_json(), "openapi_version": document.get("openapi"), "openapi_problems": problems,
        "server_tracebacks": len(server_errors), "operations_with_inputs": sorted(with_inputs),
        "min_cases_per_operation_with_inputs": min((n for op, n in counts.items() if op in with_inputs), default=0),
    }


def operations_with_inputs(document: dict[str, Any]) -> set[str]:
    """"METHOD /path" of each operation that takes parameters or a body (the others have one request)."""
    found = set()
    for path, item in document.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "patch", "head", "options", "trace") and (
                shared or operation.get("parameters") or operation.get("requestBody")
            ):
                found.add(f"{method.upper()} {path}")
    return found


def results_table(results: list[dict[str, Any]]) -> str:
    from common.training import format_table

    rows = [
        {
            "app": r["app"], "openapi": "valid" if not r["openapi_problems"] else f"{len(r['openapi_problems'])} errors",
            "operations": f"{r['operations_tested']}/{r['operations_selected']}",
            "max examples": r["max_examples"], "cases": r["generated"],
            "min/op with inputs": r["min_cases_per_operation_with_inputs"],
            "stateful": r["stateful_cases"], "failures": r["failure_count"], "errors": len(r["errors"]),
            "seconds": f"{r['seconds']:.0f}",
        }
        for r in results
    ]
    return format_table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", nargs="*", choices=APP_NAMES, help="default: every installed app")
    parser.add_argument("--max-examples", type=int, default=FULL_EXAMPLES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--full-training", action="store_true", help="train without --quick")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "reports" / "fuzz.json")
    parser.add_argument("--schemathesis-arg", action="append", default=[], metavar="ARG",
                        help="passed on to `schemathesis run` (repeat), e.g. --schemathesis-arg=--include-method=DELETE")
    args = parser.parse_args(argv)
    progress = cli_progress("fuzz")
    names = cli_apps(parser, args.apps)
    results = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="mlapps-fuzz-") as tmp:
        for name in names:
            results.append(app_fuzz(name=name, root=Path(tmp), max_examples=args.max_examples, seed=args.seed,
                                    quick=not args.full_training, progress=progress,
                                    extra_args=tuple(args.schemathesis_arg)))
            if results[-1]["failure_count"] or results[-1]["errors"] or results[-1]["warnings"]:
                print(results[-1]["output_tail"], file=sys.stderr)
    print(results_table(results))
    for result in results:
        for op, count in sorted(result["cases_by_operation"].items()):
            print(f"  {result['app']:12s} {count:6d}  {op}")
    document = {
        "started": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1), "checks": list(CHECKS),
        "command": "schemathesis run URL --checks " + ",".join(CHECKS) + f" --max-examples {args.max_examples}",
        "apps": results,
    }
    report_write(args.out, document)
    failed = any(r["failure_count"] or r["errors"] or r["openapi_problems"] or r["exit_code"] for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
