"""One error shape everywhere: RFC 9457 problem details.

Every 4xx/5xx body of every app is built here, so Flask and Django answer alike::

    {"type": "about:blank", "title": "Validation failed", "status": 422,
     "detail": "2 fields are invalid",
     "errors": [{"field": "income", "message": "Input should be a valid number"}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_body(
    *,
    status: int,
    detail: str | None = None,
    title: str | None = None,
    errors: Iterable[Mapping[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = [dict(error) for error in errors]
    body.update(extra)
    return body


def field_errors_from_pydantic(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Turn pydantic's `ValidationError.errors()` into `[{"field", "message"}]`.

    The field is the dotted location inside the payload (`0.income` for the
    first row of a batch), so each bad field is named exactly once.
    """
    result = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "__root__")]
        result.append({"field": ".".join(location) or "(body)", "message": str(error.get("msg", "invalid"))})
    return result


def validation_problem(errors: list[dict[str, str]], *, status: int = 422) -> dict[str, Any]:
    count = len(errors)
    noun = "field is" if count == 1 else "fields are"
    return problem_body(
        status=status, title="Validation failed", detail=f"{count} {noun} invalid", errors=errors
    )
