"""`init_app`: the error handlers, headers, limits, CSRF and routes every Flask app shares."""

from __future__ import annotations

import dataclasses
import re
import uuid
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
    app.after_request(lambda response: _headers_add(response, headers=added_headers))
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
    """Flask's signed-cookie sessions, with the signing serializer built once per secret instead of per request."""

    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], Any] = {}

    def get_signing_serializer(self, app: Flask) -> Any:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        serializer = self._serializers.get(key)
        if serializer is None:
            serializer = self._serializers[key] = super().get_signing_serializer(app)
        return serializer


def _request_start() -> None:
    """Every request: its id (echoed when well-formed, else new), then the body-size limit (413)."""
    incoming = request.environ.get("HTTP_X_REQUEST_ID", "")  # environ: no KeyError raised and caught
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    length = request.content_length
    if limit is not None and length is not None and length > limit:
        raise ProblemError(
            413, f"the request body has {length} bytes; the limit is {limit} bytes", title="Content Too Large"
        )


def _headers_add(response: Response, *, headers: tuple[tuple[str, str], ...]) -> Response:
    """Add each of `headers` the view did not set itself (one pass: `setdefault` raises and catches per miss)."""
    present = {name.lower() for name, _value in response.headers}
    for name, value in headers:
        if name.lower() not in present:
            response.headers.add(name, value)
    request_id = getattr(g, "request_id", None)
    if request_id:
        response.headers["X-Request-ID"] = request_id
    return response
