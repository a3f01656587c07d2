"""Shared Flask glue of the credit and maintenance apps.

Usage in an app factory (the whole contract; see each function's docstring)::

    from flask import Flask, render_template
    from common.db import engine_for_app
    from common.registry import CurrentModel, registry_from_settings
    import mlapps_flask as mf

    def create_app() -> Flask:
        app = Flask(__name__)
        mf.init_app(app, title="Credit risk", version="1.0", description="Scores applicants",
                    nav=[("Score", "web.score_form"), ("API docs", "/docs")])
        mf.init_db(app, engine_for_app("credit"), metadata=my_tables_metadata)
        current = CurrentModel(registry_from_settings(), "credit")
        mf.readiness_add(app, "model:credit", mf.model_readiness(current))

        api = mf.ApiBlueprint("api", __name__, url_prefix="/api/v1")

        @api.operation("POST", "/scores", summary="Score applicants", tags=["scoring"],
                       body=list[ApplicantIn], responses={200: list[ScoreOut]}, auth=True)
        def scores_create(*, body: list[ApplicantIn]) -> list[ScoreOut]:
            return score_batch(model=mf.model_get(current), applicants=body)  # 503 if no model

        @api.operation("GET", "/scores", summary="List scores", query=mf.PageQuery,
                       responses={200: mf.Page[ScoreOut]})
        def scores_list(*, query: mf.PageQuery) -> dict:
            items, total = score_list(offset=query.offset, limit=query.limit)
            return mf.page_envelope(items=items, query=query, total=total)

        app.register_blueprint(api)   # after init_app; HTML blueprints use {{ csrf_input() }}
        return app

What `init_app` installs:
- problem+json errors (common/problems.py) for every HTTP error (405 keeps `Allow`), pydantic
  ValidationError (422 naming each field), ModelUnavailableError and SQLAlchemy
  OperationalError (503), and a logged 500 catch-all.  API paths (`/api/`, `/openapi.json`,
  `/healthz`, `/readyz`) always answer JSON; browsers get `mlapps_flask/error.html` elsewhere.
  Raise `ProblemError(404, "no applicant 42")` (or `problem_abort(...)`) from any view.
- CSP without inline script, nosniff, X-Frame-Options DENY, Referrer-Policy, `X-Request-ID`
  (echoed or generated, also `flask.g.request_id`).
- `MAX_CONTENT_LENGTH` = settings.max_request_bytes (413 problem); `SECRET_KEY` from settings;
  production mode runs `settings.check_production()` and refuses to start on insecure settings.
- CSRFProtect for HTML forms (`{{ csrf_input() }}` in templates); `ApiBlueprint`s are exempt.
- `/healthz`, `/readyz` (503 listing each failing check), `/openapi.json` (OpenAPI 3.1) and
  `/docs` (Swagger UI served from the installed swagger_ui_bundle, no CDN).
- Templates: `{% extends "mlapps_flask/base.html" %}` with blocks `title`, `head`, `scripts`,
  `content`, `nav_extra`, `footer`; styles in `mlapps.css` (`.card`, `.grid`, `.badge-ok|warning|critical`,
  `.status-*`, `.flash-*`, tables, `.form-grid`, `.field`, `.button`), flashes with categories
  ok/warning/critical/info are shown.  Static URL: `url_for('mlapps_static.static', filename=...)`.

Outside `@operation`: `body_parse(Model)`, `query_parse(Model)`, `validate_or_422(Model, data)`,
`token_required` (decorator), `token_check()`, `engine_get()`.
Pages: `init_login(app, purpose=...)` adds `/login` and `/logout` (sign in with an API token, the name
kept in the session); `@login_required` (or `@login_required(when=...)`) guards views that write,
`signed_in_user()` names the visitor.
CSV: `csv_upload_read(required_columns=...)` (multipart field `file` or a text/csv body; a bad file
is a 422 naming `file`), `csv_response(columns=, rows=, filename=)` (streamed, formula-escaped),
`csv_upload_body()` / `csv_download_response()` for `@operation(request_body=..., responses={200: ...})`;
framework-free reading/writing in `common.csv_tools` (`CsvError` raised anywhere -> 422).
"""

from __future__ import annotations

from .api import ApiBlueprint, Operation
from .auth import database_status, engine_get, init_db, token_check, token_required
from .core import CONTENT_SECURITY_POLICY, SECURITY_HEADERS, csrf_input, init_app
from .csv_io import csv_download_response, csv_response, csv_upload_body, csv_upload_read
from .errors import ProblemError, error_response, problem_abort, problem_response, wants_json
from .login import init_login, login_redirect, login_required, same_site_path, signed_in_user
from .health import model_get, model_readiness, readiness_add
from .openapi import Problem, openapi_document
from .pagination import Page, PageQuery, page_envelope
from .parsing import body_parse, json_body, query_parse, validate_or_422

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "SECURITY_HEADERS",
    "ApiBlueprint",
    "Operation",
    "Page",
    "PageQuery",
    "Problem",
    "ProblemError",
    "body_parse",
    "csrf_input",
    "csv_download_response",
    "csv_response",
    "csv_upload_body",
    "csv_upload_read",
    "database_status",
    "engine_get",
    "error_response",
    "init_app",
    "init_db",
    "init_login",
    "json_body",
    "login_redirect",
    "login_required",
    "model_get",
    "model_readiness",
    "openapi_document",
    "page_envelope",
    "problem_abort",
    "problem_response",
    "query_parse",
    "readiness_add",
    "same_site_path",
    "signed_in_user",
    "token_check",
    "token_required",
    "validate_or_422",
    "wants_json",
]
