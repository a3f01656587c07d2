"""What is measured and how it is started: endpoints, servers, gunicorn processes on 127.0.0.1."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"  # load is only ever sent to this machine
REPO_ROOT = Path(__file__).resolve().parents[2]
BASE_GUNICORN_CONFIG = "python:common.gunicorn_base"

SEED_FEATURES_EXAMPLE = [5.0, 48.0, 36.0, 51.0, 125.0, 3000.0, 0.0, 1000.0, 1400.0, 0.0]
SEED_JSON_BODY = json.dumps({"features": SEED_FEATURES_EXAMPLE}).encode()
SEED_FORM_BODY = "&".join(f"feature_{i}={v:g}" for i, v in enumerate(SEED_FEATURES_EXAMPLE)).encode()
# Production runs behind a TLS-terminating proxy (gunicorn trusts it from 127.0.0.1): every request says so,
# so production settings (HTTPS redirect, secure cookies) stay on and every server gets the same header.
PROXY_HEADERS = (("X-Forwarded-Proto", "https"),)
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


# --------------------------------------------------------------------------- what is measured
@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One request shape sent to one server."""

    key: str  # unique in a run, e.g. "credit:seed"
    label: str  # e.g. "seed predict"
    kind: str  # floor | article | health | seed | domain
    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    expect_keys: tuple[str, ...] = ()  # JSON keys a correct answer has
    failure: str | None = None  # known before any request: why it cannot be measured

    def request_headers(self) -> dict[str, str]:
        headers = dict(PROXY_HEADERS) | dict(self.headers)
        if self.content_type:
            headers["Content-Type"] = self.content_type
        return headers


@dataclasses.dataclass(frozen=True)
class ServerSpec:
    """A process to start and the endpoints to measure on it."""

    name: str  # floor | article | credit | maintenance | recommender
    label: str
    framework: str
    argv_template: tuple[str, ...]  # '{port}' is filled in
    endpoints: tuple[Endpoint, ...]
    # Keys of the endpoints whose first correct answer ends the cold start, best first: a prediction,
    # else (its model is not trained) the next one.
    ready_endpoints: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    baseline: bool = False

    def argv(self, *, port: int) -> list[str]:
        return [part.format(port=port) for part in self.argv_template]

    def endpoint(self, key: str) -> Endpoint:
        return next(e for e in self.endpoints if e.key == key)


@dataclasses.dataclass(frozen=True)
class DomainEndpoint:
    """An app's main domain endpoint: how to build its request (some need a token or an id)."""

    label: str
    method: str
    path: str
    body: Any = None  # JSON-serialisable, a callable returning it (run after training), or None
    auth: bool = False
    expect_keys: tuple[str, ...] = ()

    def body_bytes(self) -> bytes | None:
        body = self.body() if callable(self.body) else self.body
        return None if body is None else json.dumps(body).encode()


def signature_example(model_name: str) -> Callable[[], dict[str, Any]]:
    """A request body from the current model's signature: each input's documented example value."""

    def build() -> dict[str, Any]:
        from common.registry import registry_from_settings

        features = registry_from_settings().get(model_name).metadata["signature"]["features"]
        return {feature["name"]: feature["example"] for feature in features}

    return build


# The main prediction endpoint of each app, as its authors documented it.
DOMAIN_ENDPOINTS: dict[str, DomainEndpoint] = {
    "credit": DomainEndpoint(
        label="score applicant", method="POST", path="/api/v1/score", body=signature_example("credit"),
        expect_keys=("probability_of_default", "grade", "decision"),
    ),
    "maintenance": DomainEndpoint(
        label="failure risk of a reading", method="POST", path="/api/v1/predict/failure",
        body={"product_type": "L", "air_temperature_k": 300.1, "process_temperature_k": 310.2,
              "rotational_speed_rpm": 1500.0, "torque_nm": 40.0, "tool_wear_min": 100.0},
        expect_keys=("failure_probability", "alert"),
    ),
    "recommender": DomainEndpoint(
        label="top-10 recommendations of a user", method="GET", path="/api/users/1/recommendations?k=10",
        expect_keys=("items", "model_version"),
    ),
}


@dataclasses.dataclass(frozen=True)
class SeedRoute:
    path: str
    body: bytes
    content_type: str


# Where each app serves the article's endpoint, in the article's request shape.
SEED_ROUTES: dict[str, SeedRoute] = {
    "credit": SeedRoute("/predict", SEED_JSON_BODY, JSON_TYPE),
    "recommender": SeedRoute("/api/predict/", SEED_FORM_BODY, FORM_TYPE),
}


def installed_apps() -> list[str]:
    """Apps importable here, or present in this checkout (servers run with it on PYTHONPATH).

    An editable install maps the packages that existed when it was made; an app
    package added since is still served, so it is still compared.
    """
    from common.apps import APPS

    return [name for name, app in APPS.items()
            if app.installed or (REPO_ROOT / app.package / "__init__.py").is_file()]


def gunicorn_argv(*, wsgi: str, config: str = BASE_GUNICORN_CONFIG) -> tuple[str, ...]:
    """The baselines' command line: the shared config, the repository on the path."""
    return (
        sys.executable, "-m", "gunicorn", "-c", config, "--bind", f"{HOST}:{{port}}",
        "--pythonpath", str(REPO_ROOT), wsgi,
    )


def baseline_servers(*, seed_model_file: Path | None) -> list[ServerSpec]:
    floor = Endpoint(
        key="floor:post", label="bare WSGI POST", kind="floor", method="POST", path="/predict",
        body=SEED_JSON_BODY, content_type=JSON_TYPE, expect_keys=("prediction",),
    )
    servers = [
        ServerSpec(
            name="floor", label="bare WSGI (HTTP floor)", framework="WSGI",
            argv_template=gunicorn_argv(wsgi="benchmarks.baselines.bare_wsgi:app"),
            endpoints=(floor,), ready_endpoints=(floor.key,), baseline=True,
        )
    ]
    if seed_model_file is not None:
        article = Endpoint(
            key="article:seed", label="seed predict (article style)", kind="article", method="POST",
            path="/predict", body=SEED_JSON_BODY, content_type=JSON_TYPE, expect_keys=("prediction",),
        )
        servers.append(
            ServerSpec(
                name="article", label="article-style Flask", framework="Flask",
                argv_template=gunicorn_argv(wsgi="benchmarks.baselines.article_flask:app"),
                endpoints=(article,), ready_endpoints=(article.key,),
                env=(("MLAPPS_SEED_MODEL_FILE", str(seed_model_file)),), baseline=True,
            )
        )
    return servers


def app_server(*, app_name: str, token: str | None) -> ServerSpec:
    """An app as `mlapps serve APP --prod` runs it, with its health, seed and domain endpoints."""
    from common.apps import get_app

    app = get_app(app_name)
    argv = tuple(part.replace("{", "{{").replace("}", "}}") for part in app.prod_argv(port=0, host=HOST))
    argv = tuple(f"{HOST}:{{port}}" if part == f"{HOST}:0" else part for part in argv)
    endpoints = [
        Endpoint(key=f"{app.name}:health", label="healthz", kind="health", method="GET", path=app.health_path)
    ]
    seed = SEED_ROUTES.get(app.name)
    if seed is not None:
        endpoints.append(
            Endpoint(
                key=f"{app.name}:seed", label="seed predict", kind="seed", method="POST", path=seed.path,
                body=seed.body, content_type=seed.content_type, expect_keys=("prediction", "probability"),
            )
        )
    domain = DOMAIN_ENDPOINTS.get(app.name)
    if domain is not None:
        headers = (("Authorization", f"Bearer {token}"),) if token else ()
        failure = None
        try:
            body = domain.body_bytes()
        except (LookupError, KeyError, OSError) as exc:  # the model it needs is not trained
            body, failure = None, f"no request body: {exc}"
        endpoints.append(
            Endpoint(
                key=f"{app.name}:domain", label=domain.label, kind="domain", method=domain.method,
                path=domain.path, body=body, content_type=JSON_TYPE if body is not None else None,
                headers=headers, expect_keys=domain.expect_keys, failure=failure,
            )
        )
    order = {"domain": 0, "seed": 1, "health": 2}
    ready = tuple(e.key for e in sorted(endpoints, key=lambda e: order[e.kind]) if e.failure is None)
    return ServerSpec(
        name=app.name, label=f"{app.name} ({app.framework})", framework=app.framework,
        argv_template=argv, endpoints=tuple(endpoints), ready_endpoints=ready,
    )


# --------------------------------------------------------------------------- one request
@dataclasses.dataclass
class Answer:
    status: int
    body: bytes
    error: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


def http_request(*, port: int, endpoint: Endpoint, timeout: float = 5.0) -> Answer:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(endpoint.method, endpoint.path, body=endpoint.body, headers=endpoint.request_headers())
        response = connection.getresponse()
        return Answer(status=response.status, body=response.read())
    except (OSError, http.client.HTTPException) as exc:
        return Answer(status=0, body=b"", error=f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


def answer_problem(*, answer: Answer, endpoint: Endpoint) -> str | None:
    """Why `answer` is not a correct answer of `endpoint` (None when it is)."""
    if answer.error:
        return answer.error
    if answer.status != 200:
        return f"HTTP {answer.status}: {answer.body[:200].decode('utf-8', 'replace')}"
    if endpoint.expect_keys:
        try:
            document = answer.json()
        except ValueError:
            return "the answer is not JSON"
        missing = [k for k in endpoint.expect_keys if not (isinstance(document, dict) and k in document)]
        if missing:
            return f"the answer lacks {', '.join(missing)}: {answer.body[:200].decode('utf-8', 'replace')}"
    return None


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1



def display_argv(argv: Sequence[str]) -> str:
    shown = ["python" if part == sys.executable else part for part in argv]
    return " ".join(shown).replace(str(REPO_ROOT), ".")



# --------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def pid_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of `pids` (from /proc; vanished processes count 0)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / ticks


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores, every process), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    """Rss and Pss (KiB) of one process: PSS splits pages shared with the master fairly."""
    values: dict[str, int] = {}
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return values
    for line in lines:
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            values[name.lower()] = int(rest.split()[0])
    return values


class ServerProcess:
    """One gunicorn master in its own session; every pid it ever had is remembered and checked on stop."""

    def __init__(self, *, spec: ServerSpec, env: dict[str, str], log_dir: Path) -> None:
        self.spec = spec
        self.env = env
        self.port = free_port()
        self.log_path = log_dir / f"{spec.name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.seen_pids: set[int] = set()
        self.last_problem: str | None = "not started"
        self.ready_endpoint = spec.ready_endpoints[0]  # the one that ended the cold start
        self.unavailable: dict[str, str] = {}  # endpoint key -> 503 answer seen while starting

    def start(self) -> None:
        self.port = free_port()
        self.unavailable = {}
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps writing to it
        try:
            self.started_at = time.perf_counter()
            self.popen = subprocess.Popen(
                self.spec.argv(port=self.port), env=self.env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        finally:
            log.close()
        self.seen_pids.add(self.popen.pid)

    @property
    def pid(self) -> int:
        assert self.popen is not None, "not started"
        return self.popen.pid

    def worker_pids(self) -> list[int]:
        workers = _children(self.pid) if self.popen is not None else []
        self.seen_pids.update(workers)
        return workers

    def pids(self) -> list[int]:
        return [self.pid, *self.worker_pids()]

    def exited(self) -> bool:
        return self.popen is None or self.popen.poll() is not None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def poll_ready(self) -> float | None:
        """Seconds since start if a ready endpoint answers correctly now, else None.

        An error answer (503: model not trained) moves on to the next ready
        endpoint, so a server without its domain model still starts.  Raises `ServerStartError` when the
        process has exited.
        """
        if self.exited():
            raise ServerStartError(f"{self.spec.name} exited during start-up:\n{self.log_tail()}")
        candidates = [key for key in self.spec.ready_endpoints if key not in self.unavailable]
        if not candidates:
            raise ServerStartError(f"{self.spec.name}: no endpoint answers: {self.unavailable}")
        endpoint = self.spec.endpoint(candidates[0])
        answer = http_request(port=self.port, endpoint=endpoint, timeout=2.0)
        self.last_problem = answer_problem(answer=answer, endpoint=endpoint)
        if self.last_problem is None:
            elapsed = time.perf_counter() - self.started_at
            self.ready_endpoint = endpoint.key
            self.worker_pids()
            return elapsed
        if answer.status >= 400:  # the server answers, this endpoint will not: try the next one
            self.unavailable[endpoint.key] = self.last_problem
            return self.poll_ready()
        return None

    def wait_ready(self, *, timeout: float) -> float:
        """Seconds from process start to the first correct answer of the ready endpoint."""
        outcome = wait_all_ready([self], timeout=timeout)[0]
        if isinstance(outcome, ServerStartError):
            raise outcome
        return outcome

    def terminate(self) -> None:
        """SIGTERM to the master: gunicorn stops its workers gracefully."""
        if self.popen is not None and self.popen.poll() is None:
            self.worker_pids()
            self.popen.send_signal(signal.SIGTERM)

    def stop(self, *, timeout: float = 15.0) -> None:
        """SIGTERM to the master (gunicorn stops its workers), SIGKILL to the group if it lingers."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        deadline = time.monotonic() + 5
        while self.leftover_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.leftover_pids():  # workers orphaned by a killed master: our own pids only
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def leftover_pids(self) -> list[int]:
        return sorted(pid for pid in self.seen_pids if pid_running(pid))


class ServerStartError(RuntimeError):
    """A server exited during start-up or never answered its ready endpoint correctly."""


def wait_all_ready(processes: Sequence[ServerProcess], *, timeout: float) -> list[float | ServerStartError]:
    """Poll every process until each answers correctly: its seconds from its own start, or why it failed."""
    deadline = time.perf_counter() + timeout
    outcome: dict[int, float | ServerStartError] = {}
    while len(outcome) < len(processes):
        for index, process in enumerate(processes):
            if index in outcome:
                continue
            try:
                elapsed = process.poll_ready()
            except ServerStartError as exc:
                outcome[index] = exc
                continue
            if elapsed is not None:
                outcome[index] = elapsed
        if len(outcome) == len(processes):
            break
        if time.perf_counter() > deadline:
            for index, process in enumerate(processes):
                outcome.setdefault(index, ServerStartError(
                    f"{process.spec.name} gave no correct answer within {timeout:.0f} s "
                    f"(last: {process.last_problem})\n{process.log_tail()}"
                ))
            break
        time.sleep(0.02)
    return [outcome[i] for i in range(len(processes))]


