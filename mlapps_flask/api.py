"""API blueprints whose routes and OpenAPI entries are declared in one step.

    api = ApiBlueprint("api", __name__, url_prefix="/api/v1")

    @api.operation("POST", "/score", summary="Score one applicant", tags=["scoring"],
                   body=ApplicantIn, responses={200: ScoreOut}, auth=True)
    def score(*, body: ApplicantIn) -> ScoreOut: ...

The decorator registers the Flask route, parses and validates the body
(`body=`) and query string (`query=`) before the view runs, checks the bearer
token when `auth=True`, turns returned pydantic models into JSON, and records
the operation for `/openapi.json`, so the document cannot drift from the routes.
API blueprints are exempt from CSRF: they take JSON (415 otherwise) and tokens.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from flask import Blueprint, Flask, current_app
from pydantic import BaseModel

from .auth import token_check
from .parsing import body_parse, query_parse

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_RULE_VARIABLE = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\([^)]*\))?:)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")


@dataclasses.dataclass(frozen=True)
class Operation:
    """One documented API operation (what `/openapi.json` is built from)."""

    method: str
    rule: str  # Flask rule relative to the blueprint, e.g. "/machines/<int:machine_id>"
    endpoint: str
    summary: str
    description: str | None
    tags: tuple[str, ...]
    body: Any  # pydantic model or type (list[Model]), or None
    query: type[BaseModel] | None
    responses: Mapping[int | str, Any]
    auth: bool
    problems: tuple[int, ...]
    request_body: Mapping[str, Any] | None  # raw OpenAPI requestBody (uploads), overrides `body`
    deprecated: bool


def _to_response(result: Any) -> Any:
    """Pydantic models (or lists of them) become JSON; everything else goes to Flask unchanged."""
    status: int | None = None
    headers: Any = None
    if isinstance(result, tuple) and result and not isinstance(result, BaseModel):
        payload, *rest = result
        if rest:
            status = rest[0] if isinstance(rest[0], int) else None
            headers = rest[-1] if not isinstance(rest[-1], int) else None
    else:
        payload = result
    # pydantic-core writes the JSON itself (no intermediate dicts, no json module).
    if isinstance(payload, BaseModel):
        body = payload.model_dump_json()
    elif isinstance(payload, list) and payload and all(isinstance(item, BaseModel) for item in payload):
        body = "[" + ",".join(item.model_dump_json() for item in payload) + "]"
    else:
        return result
    response = current_app.response_class(body, mimetype="application/json")
    if status is not None:
        response.status_code = status
    if headers:
        response.headers.extend(headers)
    return response


class ApiBlueprint(Blueprint):
    """A Flask blueprint for JSON APIs: CSRF-exempt, with `@operation` routes documented in OpenAPI."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.operations: list[Operation] = []

    def operation(
        self,
        method: str,
        rule: str,
        *,
        summary: str,
        description: str | None = None,
        tags: Sequence[str] = (),
        body: Any = None,
        query: type[BaseModel] | None = None,
        responses: Mapping[int | str, Any] | None = None,
        auth: bool = False,
        problems: Iterable[int] = (),
        request_body: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
        deprecated: bool = False,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register `rule` for `method` and document it.

        body: pydantic model (or `list[Model]`) parsed from JSON and passed as `body=`.
        query: pydantic model parsed from the query string, passed as `query=`.
        responses: {status: Model | list[Model] | "description" | raw OpenAPI response dict}.
        auth: require `Authorization: Bearer <token>` (401 otherwise); the token's owner is `g.api_client`.
        problems: extra error statuses to document (e.g. 404, 409); common ones are added automatically.
        request_body: raw OpenAPI requestBody for non-JSON bodies (CSV upload); the view reads it itself.
        """
        method = method.upper()
        if method not in HTTP_METHODS:
            raise ValueError(f"unsupported method {method!r}")

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            name = endpoint or view.__name__

            @functools.wraps(view)
            def wrapper(**path_args: Any) -> Any:
                if auth:
                    token_check()
                if query is not None:
                    path_args["query"] = query_parse(query)
                if body is not None:
                    path_args["body"] = body_parse(body)
                return _to_response(view(**path_args))

            self.add_url_rule(rule, endpoint=name, view_func=wrapper, methods=[method])
            self.operations.append(
                Operation(
                    method=method,
                    rule=rule,
                    endpoint=name,
                    summary=summary,
                    description=description,
                    tags=tuple(tags),
                    body=body,
                    query=query,
                    responses=dict(responses or {200: "OK"}),
                    auth=auth,
                    problems=tuple(problems),
                    request_body=request_body,
                    deprecated=deprecated,
                )
            )
            return wrapper

        return decorator

    def register(self, app: Flask, options: dict[str, Any]) -> None:
        state = app.extensions.get("mlapps")
        if state is None:
            raise RuntimeError("call mlapps_flask.init_app(app, ...) before registering an ApiBlueprint")
        super().register(app, options)
        state.csrf.exempt(self)
        prefix = options.get("url_prefix", self.url_prefix) or ""
        name = f"{options.get('name_prefix', '')}.{options.get('name', self.name)}".lstrip(".")
        state.api_blueprints.append((self, prefix.rstrip("/"), name))
        state.openapi_cache = None


def openapi_path(rule: str) -> tuple[str, list[tuple[str, str]]]:
    """Flask rule -> OpenAPI path template and [(name, converter)] of its path parameters."""
    variables = [(m.group("name"), m.group("converter") or "string") for m in _RULE_VARIABLE.finditer(rule)]
    return _RULE_VARIABLE.sub(lambda m: "{" + m.group("name") + "}", rule), variables
