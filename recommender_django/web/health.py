"""`/healthz` (the process answers) and `/readyz` (database reachable and a model loaded)."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from common.problems import PROBLEM_CONTENT_TYPE, problem_body
from recommender_django.modelops.serving import recommender_service


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    ready = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = f"ok ({connection.vendor})"
    except DatabaseError as exc:
        ready, checks["database"] = False, f"unavailable: {exc}"
    model_ready, reason = recommender_service().status()
    checks["model"] = reason
    ready = ready and model_ready
    if ready:
        return JsonResponse({"status": "ready", "checks": checks})
    return JsonResponse(problem_body(status=503, detail="; ".join(f"{k}: {v}" for k, v in checks.items()),
                                     checks=checks), status=503, content_type=PROBLEM_CONTENT_TYPE)
