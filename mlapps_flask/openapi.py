"""The OpenAPI 3.1 document of an app, built from its `ApiBlueprint` operations, and `/docs`.

Schemas come from the pydantic models (JSON Schema 2020-12, which OpenAPI 3.1
uses as is), all generated in one pass so shared models get one component.
Every error is documented with the shared `Problem` schema.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import pydantic
from flask import Blueprint, Flask, current_app, render_template, send_from_directory
from pydantic.json_schema import GenerateJsonSchema
from swagger_ui_bundle import swagger_ui_path

from common.problems import PROBLEM_CONTENT_TYPE

from .api import Operation, openapi_path
from .core import SQL_BIGINT_MAX

REF_TEMPLATE = "#/components/schemas/{model}"
_CONVERTER_SCHEMAS = {
    # Flask's int converter matches digits only; init_app caps it at the largest SQL BIGINT
    "int": {"type": "integer", "minimum": 0, "maximum": SQL_BIGINT_MAX},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
}
_DEFAULT_DESCRIPTIONS = {
    400: "Malformed request (for example invalid JSON)",
    401: "Missing, invalid or revoked API token",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request body larger than the configured limit",
    415: "Body is not JSON",
    422: "Validation failed; `errors` names every bad field",
    503: "Database or model unavailable",
}


class FieldError(pydantic.BaseModel):
    field: str
    message: str


class Problem(pydantic.BaseModel):
    """RFC 9457 problem details (every 4xx/5xx answer)."""

    model_config = pydantic.ConfigDict(extra="allow", title="Problem")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


def _problem_statuses(operation: Operation, path_params: list[tuple[str, str]]) -> list[int]:
    statuses = set(operation.problems) | {503}
    if operation.body is not None or operation.request_body is not None:
        statuses |= {400, 413, 422}
    if operation.body is not None:
        statuses.add(415)
    if operation.query is not None or path_params:
        statuses.add(422)
    if path_params:
        statuses.add(404)
    if operation.auth:
        statuses.add(401)
    return sorted(statuses - {int(s) for s in operation.responses if str(s).isdigit()})


class _SchemaCollector:
    """Collect every type first, then generate all schemas in one pass (consistent, unique names)."""

    def __init__(self) -> None:
        self._inputs: list[tuple[Any, str, Any]] = []
        self.results: dict[tuple[Any, str], dict[str, Any]] = {}
        self.definitions: dict[str, Any] = {}

    def add(self, schema_type: Any, mode: str) -> tuple[int, str]:
        key = (len(self._inputs), mode)
        adapter = pydantic.TypeAdapter(schema_type)
        self._inputs.append((key[0], mode, adapter.core_schema))
        return key

    def generate(self) -> None:
        generator = GenerateJsonSchema(ref_template=REF_TEMPLATE)
        self.results, self.definitions = generator.generate_definitions(self._inputs)  # type: ignore[arg-type]

    def schema(self, key: tuple[int, str]) -> dict[str, Any]:
        return self.results[key]


def _response_entry(value: Any, collector: _SchemaCollector) -> tuple[str, Any]:
    if isinstance(value, Mapping):
        return ("raw", copy.deepcopy(dict(value)))
    if isinstance(value, str):
        return ("raw", {"description": value})
    return ("schema", collector.add(value, "serialization"))


def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `app` (cached until another API blueprint is registered)."""
    state = app.extensions["mlapps"]
    if state.openapi_cache is not None:
        return state.openapi_cache
    collector = _SchemaCollector()
    problem_key = collector.add(Problem, "serialization")
    planned = []
    for blueprint, prefix, name in state.api_blueprints:
        for operation in blueprint.operations:
            path, params = openapi_path(_flask_rule(app, name, prefix, operation))
            body_key = collector.add(operation.body, "validation") if operation.body is not None else None
            query_key = collector.add(operation.query, "validation") if operation.query is not None else None
            responses = {str(s): _response_entry(v, collector) for s, v in operation.responses.items()}
            planned.append((name, operation, path, params, body_key, query_key, responses))
    collector.generate()

    problem_ref = collector.schema(problem_key)
    paths: dict[str, dict[str, Any]] = {}
    for name, operation, path, params, body_key, query_key, responses in planned:
        entry: dict[str, Any] = {
            "operationId": f"{name}.{operation.endpoint}".replace(".", "_"),
            "summary": operation.summary,
        }
        if operation.description:
            entry["description"] = operation.description
        if operation.tags:
            entry["tags"] = list(operation.tags)
        if operation.deprecated:
            entry["deprecated"] = True
        parameters = [
            {"name": param, "in": "path", "required": True, "schema": dict(_CONVERTER_SCHEMAS.get(conv, {"type": "string"}))}
            for param, conv in params
        ]
        if query_key is not None:
            parameters += _query_parameters(collector, query_key)
        if parameters:
            entry["parameters"] = parameters
        if operation.request_body is not None:
            entry["requestBody"] = copy.deepcopy(dict(operation.request_body))
        elif body_key is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": collector.schema(body_key)}},
            }
        documented: dict[str, Any] = {}
        for status, (kind, value) in responses.items():
            if kind == "raw":
                documented[status] = value
            else:
                documented[status] = {
                    "description": _describe(status),
                    "content": {"application/json": {"schema": collector.schema(value)}},
                }
        for status in _problem_statuses(operation, params):
            documented[str(status)] = {
                "description": _DEFAULT_DESCRIPTIONS.get(status) or _describe(status),
                "content": {PROBLEM_CONTENT_TYPE: {"schema": problem_ref}},
            }
        documented["default"] = {
            "description": "Any other error, as problem details",
            "content": {PROBLEM_CONTENT_TYPE: {"schema": problem_ref}},
        }
        entry["responses"] = dict(sorted(documented.items(), key=lambda item: (item[0] == "default", item[0])))
        if operation.auth:
            entry["security"] = [{"bearerAuth": []}]
        paths.setdefault(path, {})[operation.method.lower()] = entry

    document = {
        "openapi": "3.1.0",
        "info": {"title": state.title, "version": state.version, "description": state.description},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(collector.definitions.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token made with `mlapps tokens create APP NAME`",
                }
            },
        },
    }
    state.openapi_cache = document
    return document


def _flask_rule(app: Flask, blueprint_name: str, prefix: str, operation: Operation) -> str:
    """The rule Flask actually registered (the routing table is the source of truth)."""
    endpoint = f"{blueprint_name}.{operation.endpoint}"
    if endpoint in app.view_functions:
        for rule in app.url_map.iter_rules(endpoint):
            if rule.methods and operation.method in rule.methods:
                return rule.rule
    return "/".join((prefix.rstrip("/"), operation.rule.lstrip("/"))) if prefix else operation.rule


def _describe(status: int | str) -> str:
    try:
        return HTTPStatus(int(status)).phrase
    except ValueError:
        return "Response"


def _query_parameters(collector: _SchemaCollector, key: tuple[int, str]) -> list[dict[str, Any]]:
    reference = collector.schema(key)
    schema = reference
    if "$ref" in reference:
        schema = collector.definitions[reference["$ref"].rsplit("/", 1)[-1]]
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if "description" in prop:
            parameter["description"] = prop["description"]
        prop.pop("title", None)
        parameter["schema"] = prop
        if prop.get("type") == "array":
            parameter["style"], parameter["explode"] = "form", True
        parameters.append(parameter)
    return parameters


# -- routes --------------------------------------------------------------------------------
docs_blueprint = Blueprint("mlapps_docs", __name__)


@docs_blueprint.get("/openapi.json")
def openapi_json() -> Any:
    return current_app.json.response(openapi_document(current_app._get_current_object()))  # type: ignore[attr-defined]


@docs_blueprint.get("/docs")
def docs() -> str:
    return render_template("mlapps_flask/docs.html")


@docs_blueprint.get("/docs/assets/<path:filename>")
def docs_asset(filename: str) -> Any:
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)
