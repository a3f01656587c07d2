"""`/healthz` (the process answers) and `/readyz` (every readiness check passes).

A readiness check is any callable returning `(ok, reason)`;
`CurrentModel.status` is one already.  `model_get(current)` returns the loaded
model or answers 503 "model unavailable: <reason>".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from flask import Flask, current_app
from pydantic import BaseModel

from common.registry import CurrentModel, LoadedModel, ModelUnavailableError

from .api import ApiBlueprint
from .errors import ProblemError

logger = logging.getLogger("mlapps_flask")
ReadinessCheck = Callable[[], tuple[bool, str]]


class HealthOut(BaseModel):
    status: Literal["ok"]


class CheckOut(BaseModel):
    name: str
    ok: bool
    reason: str


class ReadinessOut(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: list[CheckOut]


def readiness_add(app: Flask, name: str, check: ReadinessCheck) -> None:
    """Add a named check to `/readyz` (a later check with the same name replaces it)."""
    app.extensions["mlapps"].readiness[name] = check


def model_readiness(current: CurrentModel) -> ReadinessCheck:
    """The readiness check of a served model (`readiness_add(app, "model:credit", model_readiness(cm))`)."""
    return current.status


def model_get(current: CurrentModel) -> LoadedModel:
    """The loaded current model, or a 503 problem "model unavailable: <reason>"."""
    try:
        return current.get()
    except ModelUnavailableError as exc:
        raise ProblemError(
            503, f"model unavailable: {exc}", title="Model unavailable", headers={"Retry-After": "30"}
        ) from None


def _run_check(name: str, check: ReadinessCheck) -> CheckOut:
    try:
        ok, reason = check()
    except Exception as exc:  # a crashing check means "not ready", never a 500
        logger.exception("readiness check %s failed", name)
        return CheckOut(name=name, ok=False, reason=f"check failed: {type(exc).__name__}: {exc}")
    return CheckOut(name=name, ok=bool(ok), reason=str(reason))


health_api = ApiBlueprint("mlapps_health", __name__)


@health_api.operation(
    "GET", "/healthz", summary="Liveness: the process answers", tags=["health"], responses={200: HealthOut}
)
def healthz() -> HealthOut:
    return HealthOut(status="ok")


@health_api.operation(
    "GET",
    "/readyz",
    summary="Readiness: database and models are usable",
    tags=["health"],
    responses={200: ReadinessOut, 503: ReadinessOut},
)
def readyz() -> tuple[ReadinessOut, int]:
    checks = [_run_check(name, check) for name, check in current_app.extensions["mlapps"].readiness.items()]
    ready = all(check.ok for check in checks)
    return ReadinessOut(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503
