"""Request parsing into pydantic models: JSON bodies and query strings.

Bad input never reaches a view: non-JSON is 415, malformed JSON 400, and
values the model refuses 422 naming every bad field.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from typing import Any, TypeVar

import pydantic
from flask import current_app, request

from common.problems import field_errors_from_pydantic, validation_problem

from .errors import ProblemError

T = TypeVar("T")


@functools.lru_cache(maxsize=256)
def _cached_adapter(schema: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(schema)


def _adapter(schema: Any) -> pydantic.TypeAdapter[Any]:
    try:
        return _cached_adapter(schema)
    except TypeError:  # an unhashable type expression: build it every time
        return pydantic.TypeAdapter(schema)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


# Built once: `json.loads(text, parse_constant=...)` builds a decoder and its scanner on every call.
_JSON_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def validate_or_422(schema: type[T] | Any, data: Any) -> T:
    """Validate `data` against a model (or any type such as `list[Model]`); 422 naming each bad field."""
    try:
        return _adapter(schema).validate_python(data)
    except pydantic.ValidationError as exc:
        errors = field_errors_from_pydantic(exc.errors(include_url=False))
        raise ProblemError(422, **_split(validation_problem(errors))) from None


def _split(body: dict[str, Any]) -> dict[str, Any]:
    """A problem body as ProblemError keyword arguments (status is given separately)."""
    return {key: value for key, value in body.items() if key not in ("status", "type")}


def body_bytes() -> bytes:
    """The request body, 413 beyond `MAX_CONTENT_LENGTH` whether it is sized or chunked.

    A body sized by Content-Length is read straight from the server's input (werkzeug's guarded
    stream costs ~10 µs per request; the size was checked by `core._request_start`) and kept where
    `request.get_data()` finds it.  A chunked body goes through werkzeug's reader, which stops at the
    limit without saying so: one more byte waiting means the body was too large.
    """
    environ = request.environ
    length = request.content_length
    if (length is not None and "HTTP_TRANSFER_ENCODING" not in environ and not request.shallow
            and getattr(request, "_cached_data", None) is None and "stream" not in request.__dict__):
        raw = environ["wsgi.input"].read(length) if length else b""
        request._cached_data = raw  # werkzeug's cache of get_data(): later readers see the same bytes
        return raw
    raw = request.get_data(cache=True)
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if length is None and limit is not None and len(raw) >= limit and environ["wsgi.input"].read(1):
        raise ProblemError(413, f"the request body is larger than the limit of {limit} bytes",
                           title="Content Too Large")
    return raw


def json_body() -> Any:
    """The request's JSON document: 415 unless it is JSON, 400 if empty or malformed, 413 if too big."""
    if not request.is_json:
        sent = request.mimetype or "no Content-Type"
        raise ProblemError(415, f"send the body as JSON with 'Content-Type: application/json' (got {sent})")
    raw = body_bytes()
    if not raw.strip():
        raise ProblemError(400, "the request body is empty; send a JSON document")
    try:
        text = raw.decode("utf-8")
        return _JSON_DECODER.decode(text)
    except UnicodeDecodeError:
        raise ProblemError(400, "the request body is not UTF-8 encoded JSON") from None
    except json.JSONDecodeError as exc:
        raise ProblemError(
            400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ProblemError(400, f"malformed JSON: {exc}") from None


def body_parse(schema: type[T] | Any) -> T:
    """Parse the JSON body into `schema` (a pydantic model, or a type like `list[Model]`)."""
    return validate_or_422(schema, json_body())


def _is_list_field(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_list_field(arg) for arg in typing.get_args(annotation))
    return False


def query_parse(model: type[T]) -> T:
    """Parse the query string into a pydantic model; list-typed fields take repeated parameters."""
    fields = getattr(model, "model_fields", {})
    data: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        field = fields.get(key)
        if field is None:
            field = next((f for f in fields.values() if f.alias == key), None)
        if field is not None and _is_list_field(field.annotation):
            data[key] = values
        else:
            data[key] = values[-1]
    return validate_or_422(model, data)
