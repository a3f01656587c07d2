"""Security checks of each app, served for real: authentication, CSRF, headers, production settings,
limits, CSV formula escaping, and a static scan for client-chosen paths and SQL built from strings.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import re
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.reliability_env import (
    CREDIT_APPLICANT, MAINTENANCE_READING, REPO_ROOT, AppServer, Call, PreparedApp, Reply, http_call, token_create,
)
from common.apps import get_app
from tests.reliability.conftest import APPS, SERVER_LIMITS

CSV_ROW_LIMIT = int(SERVER_LIMITS["MLAPPS_MAX_CSV_ROWS"])
BODY_LIMIT = int(SERVER_LIMITS["MLAPPS_MAX_REQUEST_BYTES"])
FORMULAS = ("=1+2", "+SUM(A1:A2)", "-2+3", "@cmd", "=HYPERLINK(\"http://x\")")


@dataclasses.dataclass(frozen=True)
class SecuritySpec:
    """What each app exposes that the checks need."""

    protected: tuple[Call, ...]  # every endpoint that writes or shows private data
    token_probe: Call  # a protected call that answers 200 with a valid token
    forms: tuple[tuple[str, str, dict[str, str]], ...]  # (page showing the form, POST target, fields)
    page_size_path: str  # a paginated list, '{size}' filled in (needs a token)
    large_write: Call  # a write endpoint for the body-size limit
    csv_upload: Callable[[int], Call] | None = None  # an upload of N CSV rows
    csv_export: Callable[[tuple[str, ...]], Call] | None = None  # an export echoing these texts in a column
    csv_passthrough: str = ""  # that column
    # HTML forms that write: (page giving a CSRF token, POST target, fields); refused without a login
    ui_writes: tuple[tuple[str, str, dict[str, str]], ...] = ()


def _csv(rows: list[dict[str, str]]) -> bytes:
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _credit_csv(rows: list[dict[str, str]]) -> Call:
    return Call("POST", "/api/v1/score/batch", raw=_csv(rows), content_type="text/csv", auth=True)


def credit_rows(count: int, *, notes: tuple[str, ...] = ()) -> list[dict[str, str]]:
    applicant = {k: str(v) for k, v in CREDIT_APPLICANT.items()}
    return [{**applicant, "note": notes[i] if i < len(notes) else "x"} for i in range(count)]


def maintenance_csv(count: int) -> Call:
    rows = [{"timestamp": f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
             **{k: str(v) for k, v in MAINTENANCE_READING.items()}} for i in range(count)]
    return Call("POST", f"/api/v1/machines/csv-{count}/readings", raw=_csv(rows), content_type="text/csv",
                auth=True)


def _oversized_json() -> bytes:
    return b"[" + b"{}," * (BODY_LIMIT // 3) + b"{}]"


SPECS: dict[str, SecuritySpec] = {
    "credit": SecuritySpec(
        protected=(
            Call("GET", "/api/v1/decisions", auth=True),
            Call("GET", "/api/v1/decisions/1", auth=True),
            Call("POST", "/api/v1/score", body=CREDIT_APPLICANT, auth=True),
            Call("POST", "/api/v1/score/batch", body=[CREDIT_APPLICANT], auth=True),
        ),
        token_probe=Call("GET", "/api/v1/decisions", auth=True),
        forms=(("/", "/", {k: str(v) for k, v in CREDIT_APPLICANT.items()}),
               ("/batch", "/batch", {})),
        page_size_path="/api/v1/decisions?page_size={size}",
        large_write=Call("POST", "/api/v1/score/batch", raw=_oversized_json(), content_type="application/json",
                         auth=True),
        csv_upload=lambda count: _credit_csv(credit_rows(count)),
        csv_export=lambda notes: _credit_csv(credit_rows(len(notes), notes=notes)),
        csv_passthrough="note",
        ui_writes=(("/", "/", {k: str(v) for k, v in CREDIT_APPLICANT.items()}),),
    ),
    "maintenance": SecuritySpec(
        protected=(
            Call("POST", "/api/v1/machines/auth-check/readings", body={**MAINTENANCE_READING, "timestamp": "__TS__"},
                 auth=True, vary=True),
            Call("POST", "/api/v1/alerts/1/ack", auth=True),
        ),
        token_probe=Call("POST", "/api/v1/alerts/0/ack", auth=True),
        forms=(("/what-if", "/what-if", {k: str(v) for k, v in MAINTENANCE_READING.items()}),
               ("/login", "/login", {"token": "mlapps_wrong"})),
        page_size_path="/api/v1/machines?page_size={size}",
        large_write=Call("POST", "/api/v1/predict/failure", raw=_oversized_json(), content_type="application/json",
                         auth=True),
        csv_upload=maintenance_csv,
        ui_writes=(("/login", "/alerts/1/ack", {}),),
    ),
}
SPECS["recommender"] = SecuritySpec(
    protected=(
        Call("GET", "/api/me/ratings", auth=True),
        Call("POST", "/api/ratings", body={"movie_id": 1, "value": 4.0}, auth=True),
        Call("DELETE", "/api/ratings/2", auth=True),
    ),
    token_probe=Call("GET", "/api/me/ratings", auth=True),
    forms=(("/accounts/login/", "/accounts/login/", {"username": "nobody", "password": "wrong-password"}),
           ("/accounts/signup/", "/accounts/signup/", {"username": "nobody", "password1": "x", "password2": "x"})),
    page_size_path="/api/me/ratings?page_size={size}",
    large_write=Call("POST", "/api/ratings", raw=_oversized_json(), content_type="application/json", auth=True),
)
CSV_UPLOAD_APPS = [a for a in APPS if a not in SPECS or SPECS[a].csv_upload is not None]
CSV_EXPORT_APPS = [a for a in APPS if a not in SPECS or SPECS[a].csv_export is not None]


def spec_of(app: str) -> SecuritySpec:
    assert app in SPECS, f"no security spec for {app}: add its protected endpoints, forms and CSV endpoints"
    return SPECS[app]


def is_problem(reply: Reply, status: int) -> bool:
    try:
        return reply.status == status and reply.json().get("status") == status
    except ValueError:
        return False


# --------------------------------------------------------------------------- authentication
@pytest.mark.parametrize("app", APPS)
def test_protected_endpoints_refuse_anonymous_and_wrong_tokens(pool, app: str) -> None:
    server = pool.served(app)
    token = server.prepared.token
    wrongly_accepted = []
    for call in spec_of(app).protected:
        for label, headers in (
            ("anonymous", {}),
            ("wrong token", {"Authorization": "Bearer mlapps_" + "x" * 43}),
            ("not a bearer token", {"Authorization": f"Basic {token}"}),
            ("truncated token", {"Authorization": f"Bearer {token[:-4]}"}),
        ):
            reply = dataclasses.replace(call, auth=False).send(server.base_url, headers=headers)
            if not is_problem(reply, 401):
                wrongly_accepted.append(f"{call.method} {call.path} {label}: {reply.status} {reply.text[:200]}")
        accepted = call.send(server.base_url, token=token)
        if accepted.status in (401, 403):
            wrongly_accepted.append(f"{call.method} {call.path} with the right token: {accepted.status}")
    assert wrongly_accepted == [], "\n".join(wrongly_accepted)


@pytest.mark.parametrize("app", APPS)
def test_tokens_are_stored_hashed_and_revoked_by_the_cli(pool, app: str) -> None:
    server = pool.served(app)
    prepared = server.prepared
    call = spec_of(app).token_probe
    token = token_create(prepared, owner="revoke-me")
    accepted = call.send(server.base_url, token=token)
    assert accepted.status not in (401, 403), accepted.text[:300]
    stored = _token_tables_dump(prepared)
    assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored  # only its hash
    prepared.mlapps("tokens", "revoke", app, "revoke-me")
    assert is_problem(call.send(server.base_url, token=token), 401)
    assert call.send(server.base_url, token=prepared.token).status == accepted.status  # other tokens still work


def _token_tables_dump(prepared: PreparedApp) -> str:
    """Every row of the app's token tables (any table whose name mentions tokens), as text."""
    import sqlalchemy as sa

    engine = prepared.engine()
    try:
        with engine.connect() as conn:
            metadata = sa.MetaData()
            metadata.reflect(conn, only=lambda name, _: "token" in name)
            assert metadata.sorted_tables, "no token table found in the app's database"
            return "\n".join(repr(row) for table in metadata.sorted_tables for row in conn.execute(sa.select(table)))
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- CSRF
@pytest.mark.parametrize("app", APPS)
def test_html_forms_carry_and_require_a_csrf_token(pool, app: str) -> None:
    server = pool.served(app)
    for page, target, fields in spec_of(app).forms:
        shown = http_call(server.base_url, "GET", page)
        assert shown.status == 200, (page, shown.status)
        forms = re.findall(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", shown.text, flags=re.S | re.I)
        assert forms, f"{page} shows no POST form"
        assert all(re.search(r'name="(csrf_token|csrfmiddlewaretoken)"', form) for form in forms), page
        body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
        posted = http_call(server.base_url, "POST", target, body=body,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert posted.status in (400, 403), (target, posted.status, posted.text[:300])
        assert "csrf" in posted.text.lower(), posted.text[:300]


FLASK_UI_WRITE_APPS = [a for a in APPS if get_app(a).framework == "Flask"]


@pytest.mark.parametrize("app", FLASK_UI_WRITE_APPS)
def test_ui_writes_need_a_login(pool, app: str) -> None:
    """A visitor with a valid CSRF token but no login cannot write through the HTML forms."""
    import requests

    server = pool.served(app)
    writes = spec_of(app).ui_writes
    assert writes, f"{app}: name the HTML forms that write"
    for page, target, fields in writes:
        with requests.Session() as visitor:
            shown = visitor.get(server.base_url + page, timeout=30)
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', shown.text)
            assert token, f"{page} gives no CSRF token"
            posted = visitor.post(server.base_url + target, data={**fields, "csrf_token": token.group(1)},
                                  allow_redirects=False, timeout=30)
        sent_to_login = posted.status_code in (302, 303) and "login" in posted.headers.get("Location", "")
        assert sent_to_login or posted.status_code in (401, 403), (target, posted.status_code, posted.text[:300])


# --------------------------------------------------------------------------- headers
CSP_REQUIRED = ("default-src", "frame-ancestors")
DATA_BLOCK = re.compile(r"""type\s*=\s*["']application/(ld\+)?json["']""", re.I)


def header_problems(reply: Reply, where: str) -> list[str]:
    problems = []
    csp = reply.header("content-security-policy") or ""
    directives = {part.strip().split(" ")[0]: part.strip() for part in csp.split(";") if part.strip()}
    if not csp:
        problems.append(f"{where}: no Content-Security-Policy")
    for name in CSP_REQUIRED:
        if name not in directives:
            problems.append(f"{where}: CSP without {name}")
    script = directives.get("script-src", directives.get("default-src", ""))
    if "'unsafe-inline'" in script or "'unsafe-eval'" in script:
        problems.append(f"{where}: CSP allows inline script: {script}")
    if (reply.header("x-content-type-options") or "").lower() != "nosniff":
        problems.append(f"{where}: X-Content-Type-Options is not nosniff")
    if not reply.header("referrer-policy"):
        problems.append(f"{where}: no Referrer-Policy")
    return problems


@pytest.mark.parametrize("app", APPS)
def test_security_headers_on_html_json_and_error_responses(pool, app: str) -> None:
    server = pool.served(app)
    prepared = server.prepared
    problems: list[str] = []
    for path in prepared.profile.html_paths:
        reply = http_call(server.base_url, "GET", path)
        problems += header_problems(reply, f"GET {path} ({reply.status})")
        if "html" in (reply.header("content-type") or ""):
            inline = [body for attributes, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", reply.text, flags=re.S)
                      if body.strip() and not DATA_BLOCK.search(attributes)]  # JSON data blocks never run
            handlers = re.findall(r"<[^>]+\son[a-z]+\s*=", reply.text)
            if inline or handlers:
                problems.append(f"GET {path}: inline script in the page ({len(inline)} blocks, {len(handlers)} "
                                "event attributes)")
    for label, reply in (
        ("JSON", prepared.profile.read.send(server.base_url, token=prepared.token)),
        ("openapi", http_call(server.base_url, "GET", prepared.profile.openapi_path)),
        ("404", http_call(server.base_url, "GET", "/no/such/page")),
        ("401", dataclasses.replace(spec_of(app).token_probe, auth=False).send(server.base_url)),
        ("readyz", http_call(server.base_url, "GET", "/readyz")),
    ):
        problems += header_problems(reply, f"{label} ({reply.status})")
    assert problems == [], "\n".join(problems)


# --------------------------------------------------------------------------- limits and CSV
@pytest.mark.parametrize("app", APPS)
def test_oversized_body_is_refused_with_413(pool, app: str) -> None:
    server = pool.served(app)
    call = spec_of(app).large_write
    assert len(call.raw or b"") > BODY_LIMIT
    reply = call.send(server.base_url, token=server.prepared.token)
    assert is_problem(reply, 413), (reply.status, reply.text[:300])


def documented_maximum(document: dict, path: str, parameter: str) -> int:
    """The `maximum` the OpenAPI document gives a query parameter of GET `path`."""
    operation = document["paths"][path]["get"]
    for item in operation.get("parameters", []):
        if item["name"] == parameter:
            schema = item.get("schema", {})
            if "maximum" in schema:
                return int(schema["maximum"])
    raise AssertionError(f"GET {path} documents no maximum for {parameter}")


@pytest.mark.parametrize("app", APPS)
def test_page_size_is_limited(pool, app: str) -> None:
    server = pool.served(app)
    path = spec_of(app).page_size_path
    document = http_call(server.base_url, "GET", server.prepared.profile.openapi_path).json()
    server_prefix = urllib.parse.urlsplit((document.get("servers") or [{}])[0].get("url", "")).path.rstrip("/")
    documented_path = path.split("?")[0].removeprefix(server_prefix)
    limit = documented_maximum(document, documented_path, "page_size")
    assert limit <= int(SERVER_LIMITS["MLAPPS_MAX_PAGE_SIZE"])
    headers = {"Authorization": f"Bearer {server.prepared.token}"}
    assert http_call(server.base_url, "GET", path.format(size=limit), headers=headers).status == 200
    reply = http_call(server.base_url, "GET", path.format(size=limit + 1), headers=headers)
    assert is_problem(reply, 422), (reply.status, reply.text[:300])
    assert "page_size" in reply.text


@pytest.mark.parametrize("app", CSV_UPLOAD_APPS)
def test_csv_row_count_is_limited(pool, app: str) -> None:
    server = pool.served(app)
    upload = spec_of(app).csv_upload
    assert upload is not None
    accepted = upload(CSV_ROW_LIMIT).send(server.base_url, token=server.prepared.token)
    assert accepted.status == 200, accepted.text[:300]
    reply = upload(CSV_ROW_LIMIT + 1).send(server.base_url, token=server.prepared.token)
    assert reply.status in (413, 422) and is_problem(reply, reply.status), (reply.status, reply.text[:300])
    assert str(CSV_ROW_LIMIT) in reply.text


@pytest.mark.parametrize("app", CSV_EXPORT_APPS)
def test_csv_exports_escape_formula_cells(pool, app: str) -> None:
    import csv
    import io

    server = pool.served(app)
    spec = spec_of(app)
    assert spec.csv_export is not None
    reply = spec.csv_export(FORMULAS).send(server.base_url, token=server.prepared.token)
    assert reply.status == 200 and "text/csv" in (reply.header("content-type") or ""), reply.text[:300]
    exported = list(csv.DictReader(io.StringIO(reply.text)))
    assert [row[spec.csv_passthrough] for row in exported] == [f"'{f}" for f in FORMULAS]
    dangerous = [cell for row in exported for cell in row.values() if cell[:1] in ("=", "+", "@")]
    assert dangerous == []


# --------------------------------------------------------------------------- production settings
@pytest.mark.parametrize("app", APPS)
def test_production_refuses_to_start_with_insecure_settings(pool, app: str) -> None:
    """`mlapps serve APP --prod` (gunicorn, production mode) with the default secret and debug on exits,
    naming both settings (each one is a reason to refuse: `Settings.check_production` lists them all)."""
    prepared = pool.prepared(app)
    env = {**prepared.env, "MLAPPS_DEBUG": "1"}
    for key in ("MLAPPS_SECRET_KEY", "DJANGO_SECRET_KEY"):  # back to the default secret
        env.pop(key, None)
    server = AppServer(PreparedApp(name=app, root=prepared.root, env=env, token=""), workers=1)
    server.start()
    try:
        assert server.popen is not None
        code = server.popen.wait(timeout=120)
    finally:
        server.stop()
    assert code != 0, "the app started with insecure production settings"
    log = server.log_text()
    assert "MLAPPS_SECRET_KEY" in log and "MLAPPS_DEBUG" in log, server.log_tail()


def test_insecure_settings_are_each_refused() -> None:
    """Each insecure setting alone is a reason to refuse (the check the apps run at start-up)."""
    from common.settings import DEVELOPMENT_SECRET, InsecureSettingsError, Settings

    good = "s" * 48
    Settings(mode="production", secret_key=good, debug=False).check_production()
    for settings in (Settings(mode="production", secret_key=DEVELOPMENT_SECRET),
                     Settings(mode="production", secret_key=good, debug=True),
                     Settings(mode="production", secret_key="short")):
        with pytest.raises(InsecureSettingsError):
            settings.check_production()


DJANGO_APPS = [a for a in APPS if get_app(a).framework == "Django"]


def django_env(prepared: PreparedApp) -> dict[str, str]:
    env = {**prepared.env, "MLAPPS_MODE": "production"}
    env.pop("MLAPPS_HTTPS", None)  # the real production default: behind TLS
    return env


@pytest.mark.parametrize("app", DJANGO_APPS)
def test_django_check_deploy_passes_with_production_settings(pool, app: str) -> None:
    prepared = pool.prepared(app)
    argv = [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING",
            "--settings=recommender_django.settings.production"]
    completed = prepared.run(argv, check=False, env=django_env(prepared))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "no issues" in completed.stdout + completed.stderr


@pytest.mark.parametrize("app", DJANGO_APPS)
def test_django_admin_and_ui_writes_need_a_login(pool, app: str) -> None:
    import requests

    server = pool.served(app)
    base = server.base_url
    anonymous = requests.get(f"{base}/admin/", allow_redirects=False, timeout=30)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous.headers["Location"]
    rate_anonymous = requests.post(f"{base}/movies/1/rate", data={"value": "4"}, allow_redirects=False, timeout=30)
    assert rate_anonymous.status_code in (302, 403)

    with requests.Session() as browser:  # a visitor signs up: a logged-in user who is not staff
        page = browser.get(f"{base}/accounts/signup/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "the signup form has no CSRF token"
        password = "Reliab1lity-" + token.group(1)[:12]
        signed_up = browser.post(f"{base}/accounts/signup/", timeout=30, allow_redirects=False, data={
            "csrfmiddlewaretoken": token.group(1), "username": f"visitor{time.monotonic_ns()}",
            "password1": password, "password2": password})
        assert signed_up.status_code == 302, signed_up.text[:500]
        admin = browser.get(f"{base}/admin/", allow_redirects=False, timeout=30)
        assert admin.status_code == 302 and "/admin/login/" in admin.headers["Location"]  # not staff
        assert browser.get(f"{base}/me/ratings/", allow_redirects=False, timeout=30).status_code == 200
        no_csrf = browser.post(f"{base}/movies/1/rate", data={"value": "4"}, allow_redirects=False, timeout=30)
        assert no_csrf.status_code == 403 and "csrf" in no_csrf.text.lower()


# --------------------------------------------------------------------------- static scan
APP_PACKAGES = tuple(get_app(a).package for a in APPS)
FILE_SINKS = {"open", "Path", "load", "read_csv", "read_text", "read_bytes", "send_file", "send_from_directory",
              "ModelRegistry", "FileResponse", "np.load", "joblib.load", "import_module"}
REQUEST_NAMES = {"request", "body", "query"}
SQL_SINKS = {"execute", "text", "raw", "extra", "executescript", "exec_driver_sql", "RawSQL"}


def python_files() -> list[Path]:
    files = []
    for package in APP_PACKAGES + ("mlapps_flask", "common"):
        folder = REPO_ROOT / package
        files += [p for p in folder.rglob("*.py") if "migrations" not in p.parts]
    return files


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _mentions_request(node: ast.AST) -> bool:
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and child.id in REQUEST_NAMES:
            return True
        if isinstance(child, ast.Attribute) and child.attr in ("GET", "POST", "FILES", "args", "form", "files"):
            base = child.value
            if isinstance(base, ast.Name) and base.id in ("request",):
                return True
    return False


def _built_string(node: ast.AST) -> bool:
    """An f-string with placeholders, `%`-formatting, `+` concatenation or `.format()`."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return isinstance(node.left, (ast.Constant, ast.JoinedStr)) or isinstance(node.right, ast.JoinedStr)
    return isinstance(node, ast.Call) and _call_name(node) == "format"


def test_apps_are_all_scanned() -> None:
    packages = {p.relative_to(REPO_ROOT).parts[0] for p in python_files()}
    assert set(APP_PACKAGES) <= packages, f"missing app packages: {set(APP_PACKAGES) - packages}"


def test_no_file_or_model_path_comes_from_a_request() -> None:
    found = []
    for path in python_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _call_name(node) in FILE_SINKS:
                arguments = [*node.args, *(k.value for k in node.keywords)]
                if any(_mentions_request(a) for a in arguments):
                    found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {ast.unparse(node)[:120]}")
    assert found == [], "\n".join(found)


def test_sql_is_never_built_from_strings() -> None:
    found = []
    for path in python_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _call_name(node) in SQL_SINKS and node.args:
                if _built_string(node.args[0]):
                    found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {ast.unparse(node)[:120]}")
    assert found == [], "\n".join(found)


def test_static_scan_catches_what_it_looks_for() -> None:
    """The scanners are not blind: each flags a sample of the pattern it forbids."""
    reads = ast.parse("def view():\n    return open(request.args['path']).read()\n")
    calls = [n for n in ast.walk(reads) if isinstance(n, ast.Call) and _call_name(n) in FILE_SINKS]
    assert any(_mentions_request(a) for n in calls for a in n.args)
    sql = ast.parse("conn.execute(text(f'SELECT * FROM t WHERE id = {ident}'))")
    texts = [n for n in ast.walk(sql) if isinstance(n, ast.Call) and _call_name(n) == "text"]
    assert _built_string(texts[0].args[0])
    assert not _built_string(ast.parse("text('SELECT 1 WHERE id = :id')").body[0].value.args[0])  # type: ignore[attr-defined]
