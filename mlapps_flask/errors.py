"""Every error answer as RFC 9457 problem+json (or a small HTML page for browsers).

JSON API paths always get JSON; other paths get HTML when the client prefers
it.  Database outages and a missing model become 503, never 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NoReturn

import pydantic
import sqlalchemy.exc
from flask import Flask, Response, current_app, g, render_template, request
from werkzeug.exceptions import HTTPException

from common.csv_tools import CsvError
from common.problems import PROBLEM_CONTENT_TYPE, field_errors_from_pydantic, problem_body, validation_problem
from common.registry import ModelUnavailableError

logger = logging.getLogger("mlapps_flask")

JSON_PATHS = ("/openapi.json", "/healthz", "/readyz")


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem+json body.

    `ProblemError(404, "no applicant 42")`; extra keyword arguments become
    extension members of the body (`errors=[...]`), `headers` are added to the response.
    """

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.detail = detail
        self.title = title
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return problem_body(status=self.status, detail=self.detail, title=self.title, **self.extra)


def problem_abort(status: int, detail: str | None = None, **kwargs: Any) -> NoReturn:
    """`raise ProblemError(...)` as a function call (reads like `flask.abort`)."""
    raise ProblemError(status, detail, **kwargs)


def problem_response(body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None) -> Response:
    """A problem+json response for `body` (built with `common.problems.problem_body`)."""
    response = current_app.json.response(dict(body))
    response.status_code = int(body["status"])
    response.mimetype = PROBLEM_CONTENT_TYPE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def wants_json() -> bool:
    """True for API paths, JSON requests and clients that prefer JSON over HTML."""
    state = current_app.extensions.get("mlapps")
    prefixes = state.api_prefixes if state is not None else ("/api/",)
    path = request.path
    if path in JSON_PATHS or any(path.startswith(prefix) for prefix in prefixes):
        return True
    if request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", PROBLEM_CONTENT_TYPE])
    return best in ("application/json", PROBLEM_CONTENT_TYPE)


def error_response(body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None) -> Response:
    """Problem JSON for API clients, the HTML error page for browsers."""
    if not wants_json():
        try:
            html = render_template("mlapps_flask/error.html", problem=body)
        except Exception:  # a broken layout must not hide the original error
            logger.exception("rendering the HTML error page failed")
        else:
            response = Response(html, status=int(body["status"]), mimetype="text/html")
            for name, value in (headers or {}).items():
                response.headers[name] = value
            return response
    return problem_response(body, headers=headers)


# -- handlers ---------------------------------------------------------------------------------
def _handle_http_exception(exc: HTTPException) -> Response | HTTPException:
    if exc.code is None:  # routing redirects and the like are not errors
        return exc
    headers = {
        name: value
        for name, value in exc.get_headers(request.environ)
        if name.lower() != "content-type"
    }
    return error_response(problem_body(status=exc.code, detail=exc.description), headers=headers)


def _handle_problem(exc: ProblemError) -> Response:
    return error_response(exc.body(), headers=exc.headers)


def _handle_validation_error(exc: pydantic.ValidationError) -> Response:
    errors = field_errors_from_pydantic(exc.errors(include_url=False))
    return error_response(validation_problem(errors))


def _handle_model_unavailable(exc: ModelUnavailableError) -> Response:
    logger.warning("model unavailable: %s", exc)
    return error_response(
        problem_body(status=503, title="Model unavailable", detail=f"model unavailable: {exc}"),
        headers={"Retry-After": "30"},
    )


def _handle_database_error(exc: sqlalchemy.exc.DBAPIError) -> Response:
    logger.error("database unavailable: %s", exc.orig if exc.orig is not None else exc)
    return error_response(
        problem_body(status=503, title="Database unavailable", detail="database unavailable"),
        headers={"Retry-After": "30"},
    )


def _handle_csv_error(exc: CsvError) -> Response:
    errors = [{"field": "file", "message": str(exc)}]
    return error_response(problem_body(status=422, title="Validation failed", detail="the CSV file cannot be used", errors=errors))


def _handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return _handle_database_error(exc)
    request_id = getattr(g, "request_id", None)
    logger.exception("unhandled error (request id %s)", request_id)
    body = problem_body(
        status=500,
        detail="an unexpected error occurred; it has been logged",
        request_id=request_id,
    )
    return error_response(body)


def errors_install(app: Flask) -> None:
    """Register every handler on `app` (called by `init_app`)."""
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(ProblemError, _handle_problem)
    app.register_error_handler(pydantic.ValidationError, _handle_validation_error)
    app.register_error_handler(ModelUnavailableError, _handle_model_unavailable)
    app.register_error_handler(CsvError, _handle_csv_error)
    # OperationalError: server down, connection refused, SQLite file unwritable or unopenable.
    app.register_error_handler(sqlalchemy.exc.OperationalError, _handle_database_error)
    app.register_error_handler(sqlalchemy.exc.InterfaceError, _handle_database_error)
    app.register_error_handler(Exception, _handle_unexpected)
