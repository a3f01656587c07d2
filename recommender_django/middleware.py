"""Project middleware: security headers, request size limit, problem+json errors on API paths."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from common.problems import PROBLEM_CONTENT_TYPE, problem_body

API_PREFIX = "/api/"

# No inline script anywhere (all JS is in static files).  The API docs page and the admin
# set inline style attributes, so only there are inline styles allowed.
CSP_STRICT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
CSP_INLINE_STYLES = CSP_STRICT.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def problem_response(status: int, detail: str | None = None, **extra: object) -> JsonResponse:
    return JsonResponse(problem_body(status=status, detail=detail, **extra), status=status,
                        content_type=PROBLEM_CONTENT_TYPE)


class SecurityHeadersMiddleware:
    """CSP, Permissions-Policy and no-store for API answers, on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        relaxed = request.path.startswith(("/admin/", "/api/docs"))
        response.headers.setdefault("Content-Security-Policy", CSP_INLINE_STYLES if relaxed else CSP_STRICT)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", settings.SECURE_REFERRER_POLICY or "same-origin")
        if request.path.startswith(API_PREFIX) and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response


class RequestSizeLimitMiddleware:
    """Answer 413 before reading a body whose declared length exceeds DATA_UPLOAD_MAX_MEMORY_SIZE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            detail = f"request body of {length} bytes exceeds the limit of {limit} bytes"
            if request.path.startswith(API_PREFIX):
                return problem_response(413, detail)
            return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class ApiProblemMiddleware:
    """Errors on /api/ paths that Django answered itself (unknown path, wrong method, 400,
    500) become problem+json, so an API client sees one error shape whatever failed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400:
            return response
        content_type = response.headers.get("Content-Type", "")
        if content_type.startswith((PROBLEM_CONTENT_TYPE, "application/json")):
            return response
        status = response.status_code
        if status == 404:
            converted = problem_response(404, f"no API endpoint at {request.path}")
        elif status == 405:
            allowed = response.headers.get("Allow", "")
            converted = problem_response(405, f"{request.method} is not allowed here; use {allowed}".strip())
            if allowed:
                converted.headers["Allow"] = allowed
        elif status == 403:
            converted = problem_response(403, _text(response) or "forbidden")
        else:
            converted = problem_response(status, None if status >= 500 else (_text(response) or None))
        return converted


def _text(response: HttpResponse) -> str:
    if getattr(response, "streaming", False):
        return ""
    try:
        text = response.content.decode("utf-8", "replace")
    except Exception:  # pragma: no cover - defensive
        return ""
    if text.lstrip().startswith("<"):
        return ""
    try:
        json.loads(text)
    except ValueError:
        return text.strip()[:300]
    return ""
