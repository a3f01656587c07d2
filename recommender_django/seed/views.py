"""The article's Django view, improved without breaking its clients.

The article reads `request.POST['feature_0']` ... `['feature_9']` and answers
`{"prediction": <int>}`; here the same form fields work, JSON works too
(`{"features": [...]}`, as the Flask app takes it), the probability is added,
a missing, extra or non-numeric feature answers 400 problem+json naming it
(the article: a 500), GET answers 405 (the article: 200 with an error body),
and the model is loaded once per process.  Features: see `common/seed.py`.
"""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from common.problems import PROBLEM_CONTENT_TYPE
from common.registry import ModelUnavailableError, registry_from_settings
from common.seed import (
    FORM_FIELDS,
    SeedInputError,
    SeedService,
    seed_features_from_body,
    seed_features_from_form,
    seed_method_problem,
    seed_problem,
    seed_unavailable_problem,
)
from recommender_django.handlers import cookieless_stateless


def _not_features() -> SeedInputError:
    message = (f"send form fields {FORM_FIELDS[0]} ... {FORM_FIELDS[-1]}, "
               'or JSON {"features": [10 numbers]} with Content-Type: application/json')
    return SeedInputError([{"field": "(body)", "message": message}])


@functools.cache
def seed_service() -> SeedService:
    """The process's seed model (built once; reloaded by CurrentModel when a version is promoted)."""
    return SeedService(registry_from_settings())


def _problem(body: dict[str, Any], **headers: str) -> JsonResponse:
    response = JsonResponse(body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE)
    for name, value in headers.items():
        response[name] = value
    return response


def _features_read(request: HttpRequest) -> list[float]:
    content_type = request.content_type or ""
    if content_type == "multipart/form-data":
        return seed_features_from_form(form=request.POST)
    raw = request.body
    if content_type == "application/json" or content_type.endswith("+json") or raw.lstrip().startswith(b"{"):
        return seed_features_from_body(raw=raw)  # also JSON sent as curl -d '{...}' (form type)
    if content_type == "application/x-www-form-urlencoded" and raw:
        # what request.POST would hold (the last value of a repeated field), without building a QueryDict
        fields = parse_qsl(raw.decode(request.encoding or settings.DEFAULT_CHARSET, "replace"), keep_blank_values=True)
        return seed_features_from_form(form=dict(fields))
    raise _not_features()


@cookieless_stateless  # see handlers.py: a request without cookies skips sessions, auth, CSRF and messages
@csrf_exempt  # the article's clients post without a CSRF token; the endpoint changes no state
def seed_predict(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _problem(seed_method_problem(method=request.method or "?"), Allow="POST")
    try:
        features = _features_read(request)
    except SeedInputError as exc:
        return _problem(seed_problem(error=exc))
    try:
        answer = seed_service().prediction_create(features=features)
    except ModelUnavailableError as exc:
        return _problem(seed_unavailable_problem(reason=f"model unavailable: {exc}"), **{"Retry-After": "30"})
    return HttpResponse(json.dumps(answer), content_type="application/json")
