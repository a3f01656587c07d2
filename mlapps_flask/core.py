"""`init_app`: the error handlers, headers, limits, CSRF and routes every Flask app shares."""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request, send_from_directory, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect, generate_csrf
from markupsafe import Markup, escape
from werkzeug.routing import IntegerConverter

from common.settings import get_settings

from .errors import ProblemError, errors_install

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
REQUEST_ID_ENVIRON = "mlapps.request_id"

SQL_BIGINT_MAX = 2**63 - 1


class SqlIntegerConverter(IntegerConverter):
    """`<int:id>` that only matches ids a SQL BIGINT can hold: a larger one is a 404, not an
    integer overflow inside the database driver (a 500)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", SQL_BIGINT_MAX)
        super().__init__(url_map, *args, **kwargs)


NavItem = tuple[str, str]  # (label, endpoint name or URL starting with "/")


@dataclasses.dataclass
class MlappsState:
    """What `init_app` keeps in `app.extensions["mlapps"]`."""

    title: str
    version: str
    description: str
    nav: Sequence[NavItem]
    api_prefixes: tuple[str, ...]
    csrf: CSRFProtect
    api_blueprints: list[tuple[Any, str, str]] = dataclasses.field(default_factory=list)
    readiness: dict[str, Callable[[], tuple[bool, str]]] = dataclasses.field(default_factory=dict)
    openapi_cache: dict[str, Any] | None = None


def init_app(
    app: Flask,
    *,
    title: str,
    version: str,
    description: str,
    nav: Sequence[NavItem] = (),
    api_prefixes: Sequence[str] = ("/api/",),
    docs: bool = True,
) -> Flask:
    """Install the shared glue on `app` (call it first in the factory, before registering blueprints).

    Production mode (`MLAPPS_MODE=production`) refuses insecure settings (raises
    `InsecureSettingsError`).  `SECRET_KEY` and `MAX_CONTENT_LENGTH` come from the
    settings unless `app.config` already sets them.
    """
    settings = get_settings()
    settings.check_production()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.secret_key
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a form left open for hours still submits
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.converters["int"] = SqlIntegerConverter  # before any route is added

    app.session_interface = CachedSerializerSessionInterface()
    # Request id and body limit run before CSRF validation, which reads the form.
    app.before_request(_request_start)
    csrf = CSRFProtect(app)
    state = MlappsState(
        title=title,
        version=version,
        description=description,
        nav=tuple(nav),
        api_prefixes=tuple(api_prefixes),
        csrf=csrf,
    )
    app.extensions["mlapps"] = state
    production = settings.mode == "production"

    errors_install(app)
    added_headers = tuple(SECURITY_HEADERS.items()) + (
        (("Strict-Transport-Security", "max-age=31536000"),) if production else ())
    app.wsgi_app = ResponseHeadersMiddleware(app.wsgi_app, headers=added_headers)  # type: ignore[method-assign]
    app.context_processor(lambda: {"mlapps": state, "mlapps_nav_links": _nav_links})
    app.add_template_global(csrf_input)

    from .health import health_api
    from .openapi import docs_blueprint

    app.register_blueprint(assets_blueprint)
    app.register_blueprint(health_api)
    if docs:
        app.register_blueprint(docs_blueprint)
    return app


# Base templates (`mlapps_flask/base.html`) and shared static files (`mlapps.css`, `mlapps.js`).
assets_blueprint = Blueprint(
    "mlapps_static",
    __name__,
    static_folder="static",
    static_url_path="/mlapps-static",
    template_folder="templates",
)


@assets_blueprint.get("/favicon.ico")
def favicon() -> Response:
    # Browsers ask for /favicon.ico on JSON pages too; answer with the shared icon instead of a 404.
    return send_from_directory(
        assets_blueprint.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400  # type: ignore[arg-type]
    )


def csrf_input() -> Markup:
    """`{{ csrf_input() }}` inside a <form method="post">: the hidden CSRF token field."""
    return Markup(f'<input type="hidden" name="csrf_token" value="{escape(generate_csrf())}">')


def _nav_links() -> list[dict[str, Any]]:
    links = []
    for label, target in current_app.extensions["mlapps"].nav:
        href = target if target.startswith(("/", "http")) else url_for(target)
        active = request.path == href or (href != "/" and request.path.startswith(href.rstrip("/") + "/"))
        links.append({"label": label, "href": href, "active": active})
    return links


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per secret instead of per request
    and no cookie parsing for requests that carry no cookies (API clients)."""

    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], Any] = {}

    def open_session(self, app: Flask, request: Any) -> Any:
        if "HTTP_COOKIE" not in request.environ and app.secret_key:  # API clients: no cookie header to parse
            return self.session_class()
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask) -> Any:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        serializer = self._serializers.get(key)
        if serializer is None:
            serializer = self._serializers[key] = super().get_signing_serializer(app)
        return serializer


def _request_start() -> None:
    """Every request: its id (decided by `ResponseHeadersMiddleware`), then the body-size limit (413)."""
    environ = request.environ
    g.request_id = environ.get(REQUEST_ID_ENVIRON) or request_id_choose(environ.get("HTTP_X_REQUEST_ID", ""))
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    length = request.content_length
    if limit is not None and length is not None and length > limit:
        raise ProblemError(
            413, f"the request body has {length} bytes; the limit is {limit} bytes", title="Content Too Large"
        )


def request_id_choose(incoming: str) -> str:
    """The client's X-Request-ID when well-formed (1-128 of A-Z a-z 0-9 . _ : -), else a new random one."""
    return incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(16)


class ResponseHeadersMiddleware:
    """WSGI middleware: every response (pages, API answers, errors, static files) gets the security
    headers it did not set itself, and `X-Request-ID`.

    The request id is chosen here, before Flask sees the request (`request_id_choose`), kept in
    `environ["mlapps.request_id"]` for the app (`flask.g.request_id`) and echoed in the answer.
    Working on the WSGI header list costs a few microseconds; adding each header to a werkzeug
    `Headers` object in an `after_request` hook re-validates every value on every response.
    """

    def __init__(self, wsgi_app: Callable[..., Any], *, headers: Sequence[tuple[str, str]]) -> None:
        self.wsgi_app = wsgi_app
        self.headers = tuple((name, value, name.lower()) for name, value in headers)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request_id = environ[REQUEST_ID_ENVIRON] = request_id_choose(environ.get("HTTP_X_REQUEST_ID", ""))

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _value in headers}
            headers.extend((name, value) for name, value, lower in self.headers if lower not in present)
            if "x-request-id" not in present:
                headers.append(("X-Request-ID", request_id))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)
