"""Prepared, really served apps for the reliability checks (fuzzing, soak, fault injection).

Shared by `benchmarks/fuzz.py`, `benchmarks/soak.py` and `tests/reliability/`:

- `app_prepare(name=, root=)` trains the app's models with `mlapps train SCENARIO --quick` into
  `root/models`, runs the app's own preparation commands (`common.apps.AppSpec.prepare_argv`:
  `flask init-db`, Django `migrate` ...) against `root/var`, and creates an API token with
  `mlapps tokens create APP NAME`.  Everything lives under `root`; nothing in the repository changes.
- `app_serve(prepared)` runs `mlapps serve APP --prod` (gunicorn with the app's production config,
  production mode, a random secret) on a free port of 127.0.0.1 and stops it afterwards; its log
  goes to a file (a pipe nobody reads would block gunicorn once it filled up).
- `APP_PROFILES`: per app, the requests the checks send (prediction, main read and write,
  model-free pages) and where acknowledged writes land in the database.

Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import importlib.util
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
APP_NAMES = ("credit", "maintenance", "recommender")
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# --------------------------------------------------------------------------- HTTP
@dataclasses.dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    error: str | None = None  # connection-level failure (status 0)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def http_call(
    base_url: str, method: str, path: str, *, json_body: Any = None, body: bytes | None = None,
    headers: Mapping[str, str] | None = None, timeout: float = 30.0,
) -> Reply:
    """One request on a fresh connection; connection errors come back as status 0, never raise."""
    parsed = urllib.parse.urlsplit(base_url)
    if parsed.hostname != HOST:
        raise ValueError(f"the reliability checks only talk to {HOST}, not {parsed.hostname}")
    all_headers = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    connection = http.client.HTTPConnection(HOST, parsed.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        return Reply(status=response.status, headers={k.lower(): v for k, v in response.getheaders()}, body=data)
    except (OSError, http.client.HTTPException) as exc:
        return Reply(status=0, headers={}, body=b"", error=f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


# --------------------------------------------------------------------------- what each app is asked
VARY_EPOCH = 1_700_000_000  # timestamps of varied requests start here (2023-11-14)
# numbers of single varied requests: far above any load's (connection i counts up from i * 7919)
_SINGLE_REQUESTS = itertools.count(900_000_000 + int(time.time() * 1000) % 10**7)


def vary_text(text: str, *, n: int, connection: int, choices: Sequence[int] = ()) -> str:
    """Fill the placeholders of a varied request (see `Call.vary`)."""
    import datetime as dt

    if choices:
        n = choices[n % len(choices)]
    stamp = dt.datetime.fromtimestamp(VARY_EPOCH + n, dt.UTC).isoformat()
    return (text.replace('"__N__"', str(n)).replace("__N__", str(n)).replace("__TS__", stamp)
            .replace("__C__", str(connection)))


@dataclasses.dataclass(frozen=True)
class Call:
    """One request shape.  `body` is JSON-serialisable (sent as JSON) unless `raw` is given."""

    method: str
    path: str
    body: Any = None
    raw: bytes | None = None
    content_type: str | None = None
    auth: bool = False
    # Placeholders for loads whose writes must differ (upserts, idempotent ingestion): in the path
    # and the JSON body, "__N__" (quoted or not) is a number unique to the request, "__TS__" an ISO
    # timestamp unique to it, "__C__" the number of the connection sending it.
    vary: bool = False
    vary_choices: tuple[int, ...] = ()  # when given, "__N__" takes these values in turn (e.g. existing ids)

    def encoded(self, *, n: int = 1, connection: int = 0, template: bool = False) -> tuple[bytes | None, dict[str, str]]:
        """The body and headers; `template=True` keeps the placeholders (a load client fills them per request)."""
        headers: dict[str, str] = {}
        if self.raw is not None:
            if self.content_type:
                headers["Content-Type"] = self.content_type
            return self.raw, headers
        if self.body is None:
            return None, headers
        headers["Content-Type"] = self.content_type or "application/json"
        data = json.dumps(self.body)
        if self.vary and not template:
            data = vary_text(data, n=n, connection=connection, choices=self.vary_choices)
        return data.encode(), headers

    def path_for(self, *, n: int = 1, connection: int = 0) -> str:
        return vary_text(self.path, n=n, connection=connection, choices=self.vary_choices) if self.vary else self.path

    def send(self, base_url: str, *, token: str | None = None, headers: Mapping[str, str] | None = None,
             timeout: float = 30.0) -> Reply:
        n = next(_SINGLE_REQUESTS) if self.vary else 1  # single requests: distinct from each other
        body, all_headers = self.encoded(n=n)
        if self.auth and token:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        return http_call(base_url, self.method, self.path_for(n=n), body=body, headers=all_headers, timeout=timeout)


@dataclasses.dataclass(frozen=True)
class WriteTarget:
    """Where an acknowledged write lands, and how its answer says what it wrote.

    `id_key`: the JSON key of the created (or upserted) row's id, looked up afterwards;
    else `count_key`: the JSON key of how many rows it stored (the table must grow by their sum).
    """

    table: str
    id_column: str = "id"
    id_key: str | None = "id"
    count_key: str | None = None
    # Rows of the token's user only: (foreign-key column, users table, username column).
    owner: tuple[str, str, str] | None = None


@dataclasses.dataclass(frozen=True)
class AppProfile:
    name: str
    openapi_path: str  # the OpenAPI document of the app's API
    predict: Call  # needs the model
    read: Call  # the main read endpoint
    write: Call  # the main write endpoint (its rows are counted)
    write_target: WriteTarget
    model_free_paths: tuple[str, ...]  # GET pages that keep working without a model
    html_paths: tuple[str, ...]  # HTML pages (security headers are checked on them)
    # (table, column) whose values the write's "__N__" takes, read from the app's database (existing ids)
    write_choices: tuple[str, str] | None = None


# Filled in per app below (see the end of this module).
PROFILES: dict[str, AppProfile] = {}


def app_profiles() -> dict[str, AppProfile]:
    return dict(PROFILES)


def app_available(name: str) -> str | None:
    """None when `name` can be served and checked; else why not (package or profile missing)."""
    from common.apps import get_app

    spec = get_app(name)
    if importlib.util.find_spec(spec.package) is None:
        return f"package {spec.package} is not importable"
    if name not in app_profiles():
        return f"no reliability profile for {name}"
    return None


# --------------------------------------------------------------------------- preparing an app
@dataclasses.dataclass
class PreparedApp:
    """An app's models, database and API token, all under `root`."""

    name: str
    root: Path
    env: dict[str, str]
    token: str
    token_owner: str = "reliability"

    @property
    def model_store(self) -> Path:
        return self.root / "models"

    @property
    def var_dir(self) -> Path:
        return self.root / "var"

    @property
    def profile(self) -> AppProfile:
        """The app's profile, its write filled in with values from this app's database when it needs some."""
        profile = app_profiles()[self.name]
        if profile.write_choices is None:
            return profile
        table, column = profile.write_choices
        values = tuple(self.column_values(table=table, column=column, limit=100_000))
        return dataclasses.replace(profile, write=dataclasses.replace(profile.write, vary_choices=values))

    def column_values(self, *, table: str, column: str, limit: int) -> list[Any]:
        import sqlalchemy as sa

        engine = self.engine()
        try:
            with engine.connect() as conn:
                tbl = sa.Table(table, sa.MetaData(), autoload_with=conn)
                return list(conn.execute(sa.select(tbl.c[column]).order_by(tbl.c[column]).limit(limit)).scalars())
        finally:
            engine.dispose()

    def run(self, argv: Sequence[str], *, check: bool = True, timeout: float = 600,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command with this app's environment (models, database, secret)."""
        return run_command(argv, env={**self.env, **(env or {})}, check=check, timeout=timeout)

    def mlapps(self, *args: str, check: bool = True, timeout: float = 600,
               env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "common.cli", *args], check=check, timeout=timeout, env=env)

    def clone(self, root: Path) -> PreparedApp:
        """A copy (models and SQLite database) under `root`: faults injected there stay there."""
        root.mkdir(parents=True, exist_ok=True)
        for folder in ("models", "var"):
            if (self.root / folder).exists():
                shutil.copytree(self.root / folder, root / folder, symlinks=True)
        (root / "cache").mkdir(exist_ok=True)
        env = dict(self.env)
        for key, value in self.env.items():
            if str(self.root) in value:
                env[key] = value.replace(str(self.root), str(root))
        return PreparedApp(name=self.name, root=root, env=env, token=self.token, token_owner=self.token_owner)

    def engine(self):  # noqa: ANN201 (sqlalchemy.Engine; imported lazily)
        """An engine on the app's database (for counting rows)."""
        from common.db import engine_create

        return engine_create(url=database_url(self))

    def count_rows(self, *, table: str, where_ids: Sequence[Any] | None = None, id_column: str = "id",
                   owner: tuple[str, str, str] | None = None) -> int:
        """Rows of `table` (only those with these ids / of the token's user, when given)."""
        import sqlalchemy as sa

        engine = self.engine()
        try:
            with engine.connect() as conn:
                tbl = sa.Table(table, sa.MetaData(), autoload_with=conn)
                query = sa.select(sa.func.count()).select_from(tbl)
                if owner is not None:
                    column, users_table, name_column = owner
                    users = sa.Table(users_table, sa.MetaData(), autoload_with=conn)
                    user_ids = sa.select(users.c.id).where(users.c[name_column] == self.token_owner)
                    query = query.where(tbl.c[column].in_(user_ids.scalar_subquery()))
                if where_ids is None:
                    return int(conn.execute(query).scalar_one())
                ids = list(where_ids)
                return sum(
                    int(conn.execute(query.where(tbl.c[id_column].in_(ids[start : start + 500]))).scalar_one())
                    for start in range(0, len(ids), 500)
                )
        finally:
            engine.dispose()


def database_url(prepared: PreparedApp) -> str:
    """The database the app's processes use (the rules of `Settings.database_url_for`, Django's too)."""
    env = prepared.env
    own = env.get(f"MLAPPS_{prepared.name.upper()}_DATABASE_URL")
    if own:
        return own
    shared = env.get("MLAPPS_DATABASE_URL") or env.get("DATABASE_URL")
    if shared:
        return shared
    return f"sqlite:///{(Path(env['MLAPPS_VAR_DIR']) / f'{prepared.name}.sqlite3').resolve()}"


DJANGO_PRODUCTION = "recommender_django.settings.production"


def base_env(*, root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every process of a prepared app: its own folders, production settings."""
    env = {
        key: value for key, value in os.environ.items()
        if not (key in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE") or (key.startswith("MLAPPS_") and key not in (
            "MLAPPS_DATA_MIRROR", "MLAPPS_DATA_MIRROR_DIR", "MLAPPS_ALLOW_DOWNLOAD")))
    }
    secret = secrets.token_urlsafe(48)
    env.update(
        {
            "MLAPPS_MODEL_STORE_DIR": str(root / "models"),
            "MLAPPS_VAR_DIR": str(root / "var"),
            "MLAPPS_DATA_CACHE_DIR": str(root / "cache"),
            "MLAPPS_SECRET_KEY": secret,
            "DJANGO_SECRET_KEY": secret,
            "MLAPPS_ACCESS_LOG": "off",
            "MLAPPS_LOG_LEVEL": "warning",
            "MLAPPS_THREADS_PER_WORKER": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p),
        }
    )
    mirror = REPO_ROOT.parent / "shared" / "datasets"
    if "MLAPPS_DATA_MIRROR" not in env and "MLAPPS_DATA_MIRROR_DIR" not in env and mirror.exists():
        env["MLAPPS_DATA_MIRROR"] = str(mirror)
    env.update(extra or {})
    return env


def run_command(argv: Sequence[str], *, env: Mapping[str, str], check: bool = True,
                timeout: float = 600) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        list(argv), env=dict(env), cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False,
        stdin=subprocess.DEVNULL,
    )
    if check and completed.returncode != 0:
        shown = " ".join("python" if a == sys.executable else a for a in argv)
        raise RuntimeError(
            f"`{shown}` failed with {completed.returncode}:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )
    return completed


def train_scenarios(name: str) -> list[str]:
    """The `mlapps train` scenarios an app needs (those whose recipe module exists)."""
    from common.apps import get_app
    from common.training import RECIPES

    return [
        s for s in get_app(name).train_scenarios
        if s in RECIPES and importlib.util.find_spec(RECIPES[s]) is not None
    ]


def app_prepare(
    *, name: str, root: Path, quick: bool = True, env: Mapping[str, str] | None = None,
    progress: Progress = _quiet, train: bool = True,
) -> PreparedApp:
    """Train the app's models into `root/models`, prepare its database, create an API token.

    The training runs and the app's preparation commands (in their order) run side by side:
    they share nothing but the machine.
    """
    from concurrent.futures import ThreadPoolExecutor

    from common.apps import get_app

    spec = get_app(name)
    root.mkdir(parents=True, exist_ok=True)
    full_env = base_env(root=root, extra=env)
    prepared = PreparedApp(name=name, root=root, env=full_env, token="")

    def train_one(scenario: str) -> None:
        progress(f"{name}: mlapps train {scenario}{' --quick' if quick else ''}")
        prepared.mlapps("train", scenario, *(["--quick"] if quick else []))

    def prepare_database() -> None:
        for argv in spec.prepare_argv():
            if quick and "train_recommender" in argv:
                argv = [*argv, "--quick"]  # the app trains its model from its database: lighter evaluation
            progress(f"{name}: {' '.join(argv[1:])}")
            prepared.run(argv)

    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = [pool.submit(train_one, s) for s in (train_scenarios(name) if train else [])]
        jobs.append(pool.submit(prepare_database))
        for job in jobs:
            job.result()
    prepared.token = token_create(prepared, owner=prepared.token_owner)
    return prepared


def token_create(prepared: PreparedApp, *, owner: str) -> str:
    """`mlapps tokens create APP OWNER` -> the token (the last word it prints)."""
    completed = prepared.mlapps("tokens", "create", prepared.name, owner)
    words = completed.stdout.split()
    if not words:
        raise RuntimeError(f"`mlapps tokens create {prepared.name}` printed no token: {completed.stderr[-2000:]}")
    return words[-1]


# --------------------------------------------------------------------------- serving
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def rss_kib(pid: int) -> int:
    """Resident set size of one process (KiB); 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


class AppServer:
    """`mlapps serve APP --prod` (gunicorn) in its own session, its output in a log file."""

    def __init__(self, prepared: PreparedApp, *, workers: int | None = 2, env: Mapping[str, str] | None = None,
                 prod: bool = True) -> None:
        """`workers=None`: as many as the app's gunicorn config starts by default (one per usable CPU)."""
        self.prepared = prepared
        self.workers = workers if workers is not None else len(os.sched_getaffinity(0))
        self.port = free_port()
        self.env = {**prepared.env, "MLAPPS_MODE": "production" if prod else "development", **(env or {})}
        if workers is not None:
            self.env["MLAPPS_WORKERS"] = str(workers)
        else:
            self.env.pop("MLAPPS_WORKERS", None)
        if prepared.name == "recommender":
            self.env.setdefault("DJANGO_SETTINGS_MODULE", DJANGO_PRODUCTION if prod else
                                "recommender_django.settings.development")
            # plain HTTP on 127.0.0.1: no redirect to https (production behind TLS keeps the default)
            self.env.setdefault("MLAPPS_HTTPS", "0")
        self.prod = prod
        log_dir = prepared.root / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{prepared.name}-{self.port}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.seen_pids: set[int] = set()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> AppServer:
        argv = [sys.executable, "-m", "common.cli", "serve", self.prepared.name, "--port", str(self.port)]
        if self.prod:
            argv.append("--prod")
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                argv, env=self.env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.seen_pids.add(self.popen.pid)
        return self

    def wait_up(self, *, path: str = "/healthz", timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.popen is None or self.popen.poll() is not None:
                raise RuntimeError(f"{self.prepared.name} exited before answering:\n{self.log_tail()}")
            reply = http_call(self.base_url, "GET", path, timeout=5)
            if reply.status and reply.status < 500:
                if self.prod and self.workers and len(self.worker_pids()) < self.workers:
                    time.sleep(0.05)
                    continue
                return
            last = reply.error or f"HTTP {reply.status}"
            time.sleep(0.1)
        raise TimeoutError(f"{self.prepared.name} did not answer {path} in {timeout:.0f} s ({last}):\n{self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.popen is not None, "not started"
        return self.popen.pid

    def worker_pids(self) -> list[int]:
        workers = children(self.pid) if self.popen is not None else []
        self.seen_pids.update(workers)
        return workers

    def rss_kib(self) -> int:
        """Resident memory of the master and every worker, summed."""
        return sum(rss_kib(pid) for pid in [self.pid, *self.worker_pids()])

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, *, timeout: float = 3.0) -> None:
        """SIGINT to the master (gunicorn's quick shutdown); SIGKILL to its session if it lingers.

        Nothing here depends on a graceful stop, so a worker that takes its time to exit is not
        waited for beyond `timeout`.
        """
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.worker_pids()
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(pid_alive(p) for p in self.seen_pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.seen_pids:  # orphaned workers of ours only
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def app_serve(prepared: PreparedApp, *, workers: int | None = 2, env: Mapping[str, str] | None = None,
              prod: bool = True, wait_path: str = "/healthz", timeout: float = 120.0) -> Iterator[AppServer]:
    """Serve a prepared app under gunicorn for the duration of the block."""
    server = AppServer(prepared, workers=workers, env=env, prod=prod)
    server.start()
    try:
        server.wait_up(path=wait_path, timeout=timeout)
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- model versions
def version_copy(prepared: PreparedApp, *, model: str, promote: bool = False) -> str:
    """Register a copy of the current version of `model` as a new version (not promoted by default)."""
    from common.registry import ModelRegistry

    registry = ModelRegistry(prepared.model_store)
    loaded = registry.load(model)
    skip = {"name", "version", "created", "library_versions", "files", "artifact_sha256"}
    metadata = {k: v for k, v in loaded.metadata.items() if k not in skip} | {"copied_from": loaded.version}
    arrays = {k: np_array[...] for k, np_array in loaded.arrays.items()}
    return registry.save(name=model, artifact=loaded.artifact, metadata=metadata, arrays=arrays,
                         promote=promote).version


def current_version(prepared: PreparedApp, *, model: str) -> str:
    return (prepared.model_store / model / "current").read_text().strip()


def artifact_corrupt(prepared: PreparedApp, *, model: str, version: str) -> Path:
    """Flip bytes in the middle of a stored artifact (its recorded sha256 no longer matches)."""
    path = prepared.model_store / model / version / "artifact.joblib"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for offset in range(middle, min(middle + 64, len(data))):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


# --------------------------------------------------------------------------- the apps
CREDIT_APPLICANT = {
    "Seniority": 5, "Home": "owner", "Time": 48, "Age": 36, "Marital": "married", "Records": "no", "Job": "fixed",
    "Expenses": 51, "Income": 125.0, "Assets": 3000.0, "Debt": 0.0, "Amount": 1000, "Price": 1400,
}

PROFILES["credit"] = AppProfile(
    name="credit",
    openapi_path="/openapi.json",
    predict=Call("POST", "/api/v1/score", body=CREDIT_APPLICANT, auth=True),
    read=Call("GET", "/api/v1/decisions?page_size=20", auth=True),
    write=Call("POST", "/api/v1/score", body=CREDIT_APPLICANT, auth=True),
    write_target=WriteTarget(table="credit_decisions", id_key="decision_id"),
    model_free_paths=("/healthz", "/docs", "/openapi.json"),
    html_paths=("/", "/batch", "/model", "/monitoring", "/docs"),
)

MAINTENANCE_READING = {
    "product_type": "M", "air_temperature_k": 298.1, "process_temperature_k": 308.6, "rotational_speed_rpm": 1551.0,
    "torque_nm": 42.8, "tool_wear_min": 0.0,
}

PROFILES["maintenance"] = AppProfile(
    name="maintenance",
    openapi_path="/openapi.json",
    predict=Call("POST", "/api/v1/predict/failure", body=MAINTENANCE_READING, auth=True),
    read=Call("GET", "/api/v1/machines?page_size=20", auth=True),
    # each load connection is one machine streaming readings with fresh timestamps (ingestion is
    # idempotent on machine + timestamp)
    write=Call("POST", "/api/v1/machines/soak-__C__/readings", body={**MAINTENANCE_READING, "timestamp": "__TS__"},
               auth=True, vary=True),
    write_target=WriteTarget(table="maintenance_readings", id_key=None, count_key="stored"),
    model_free_paths=("/healthz", "/docs", "/openapi.json", "/", "/api/v1/machines", "/api/v1/alerts"),
    html_paths=("/", "/alerts", "/what-if", "/model", "/login", "/docs"),
)

PROFILES["recommender"] = AppProfile(
    name="recommender",
    openapi_path="/api/openapi.json",
    predict=Call("POST", "/api/ratings/predict", body={"user_id": 1, "movie_id": 1}, auth=True),
    read=Call("GET", "/api/movies?page_size=20", auth=True),
    # a rating replaces the user's earlier one of that movie: every request rates another movie
    write=Call("POST", "/api/ratings", body={"movie_id": "__N__", "value": 4.0}, auth=True, vary=True),
    write_choices=("movies_movie", "id"),  # MovieLens ids have gaps: rate movies that exist
    write_target=WriteTarget(table="movies_rating", id_column="movie_id", id_key="movie.id",
                             owner=("user_id", "auth_user", "username")),
    model_free_paths=("/healthz", "/api/openapi.json", "/api/movies", "/movies/", "/accounts/login/"),
    html_paths=("/", "/movies/", "/model/", "/accounts/login/", "/accounts/signup/", "/admin/login/", "/api/docs"),
)


# --------------------------------------------------------------------------- command-line scripts
def cli_apps(parser: Any, requested: Sequence[str] | None) -> list[str]:
    """The apps a benchmark script runs: those asked for (each must be runnable here), else every available one."""
    names = list(requested or [n for n in APP_NAMES if app_available(n) is None])
    for name in names:
        reason = app_available(name)
        if reason:
            parser.error(f"{name}: {reason}")
    return names


def cli_progress(tag: str) -> Callable[[str], None]:
    """A progress printer for stderr: `[tag] message`."""

    def progress(message: str) -> None:
        print(f"[{tag}] {message}", file=sys.stderr, flush=True)

    return progress


def report_write(path: Path, document: Mapping[str, Any]) -> None:
    """Write a benchmark's JSON report and say where (relative to the repository when inside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))
    print(f"wrote {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")
