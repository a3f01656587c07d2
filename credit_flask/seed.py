"""The article's Flask endpoint, kept working: `POST /predict` -> `{"prediction": 0|1, "probability": p}`.

A client written for the article works unchanged (`requests.post(url, json={"features": [...]})`).
Improvements over the article, which answer its failures with a 500 or a KeyError:
form fields `feature_0` ... `feature_9` accepted too; the probability added; a wrong
count or a non-numeric feature -> 400 problem+json naming it; GET -> 405; the model
loaded once (in the gunicorn master with preload, shared by the workers).  The
features are documented in `common/seed.py`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from flask import Flask, current_app, request
from flask.blueprints import BlueprintSetupState

import mlapps_flask as mf
from common.registry import registry_from_settings
from common.seed import (
    FORM_FIELDS,
    SeedInputError,
    SeedPredictFormIn,
    SeedPredictionOut,
    SeedPredictJSONIn,
    SeedService,
    seed_features_from_body,
    seed_features_from_form,
    seed_method_problem,
    seed_problem,
)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

seed_api = mf.ApiBlueprint("seed", __name__)


@seed_api.record_once
def _service_attach(state: BlueprintSetupState) -> None:
    service = SeedService(registry_from_settings())
    state.app.extensions["seed"] = service
    if "gunicorn" in sys.modules:  # preloaded master: load once, workers share it; CLI and tests stay lazy
        service.preload()


def seed_service(app: Flask | None = None) -> SeedService:
    return (app or current_app).extensions["seed"]


def _not_features() -> SeedInputError:
    message = (f'send JSON {{"features": [10 numbers]}} with Content-Type: application/json, '
               f"or form fields {FORM_FIELDS[0]} ... {FORM_FIELDS[-1]}")
    return SeedInputError([{"field": "(body)", "message": message}])


def _features_read() -> list[float]:
    raw = request.get_data(cache=True)  # 413 beyond MAX_CONTENT_LENGTH; form parsing reuses the cache
    if request.is_json or raw.lstrip().startswith(b"{"):  # also JSON sent as curl -d '{...}' (form type)
        return seed_features_from_body(raw=raw)
    if request.mimetype in FORM_TYPES and request.form:
        return seed_features_from_form(form=request.form)
    raise _not_features()


@seed_api.operation(
    "POST",
    "/predict",
    summary="The article's prediction: 10 credit features -> prediction and probability",
    description="JSON `{\"features\": [f0, ..., f9]}` (the article) or form fields `feature_0` ... `feature_9`. "
    "A wrong count or a non-numeric feature answers 400 naming the problem.",
    tags=["seed"],
    request_body={
        "required": True,
        "content": {
            "application/json": {"schema": SeedPredictJSONIn.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": SeedPredictFormIn.model_json_schema()},
        },
    },
    responses={200: SeedPredictionOut},
    problems=(400, 405),
)
def seed_predict() -> Any:
    try:
        features = _features_read()
    except SeedInputError as exc:
        return mf.problem_response(seed_problem(error=exc))
    answer = seed_service().prediction_create(features=features)
    return current_app.response_class(json.dumps(answer), mimetype="application/json")


def _seed_wrong_method() -> Any:
    # JSON for every client (the article answered GET with 200 and an error body).
    return mf.problem_response(seed_method_problem(method=request.method), headers={"Allow": "POST"})


seed_api.add_url_rule(
    "/predict", endpoint="predict_wrong_method", view_func=_seed_wrong_method,
    methods=["GET", "PUT", "PATCH", "DELETE"], provide_automatic_options=False,
)
