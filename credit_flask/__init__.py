"""Credit-risk scoring served with Flask: REST API, server-rendered pages, decision log.

`create_app()` reads top to bottom: configuration, shared glue (mlapps_flask),
database, served model, blueprints.  All scoring logic lives in
`common.credit`; the views here parse, call one domain function, render.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

import mlapps_flask as mf
from common.credit.decisions import decisions_metadata
from common.credit.training import CHAMPION
from common.db import engine_create, engine_for_app
from common.registry import CurrentModel, registry_from_settings
from credit_flask.state import CreditState

# Deployment overrides of the scoring policy: MLAPPS_CREDIT_APPROVE_BELOW=0.1, etc.
POLICY_KEYS = ("approve_below", "decline_from", "base_points", "base_odds", "points_to_double_odds", "max_reasons")


def _policy_from_environment() -> dict[str, float]:
    found = {}
    for key in POLICY_KEYS:
        value = os.environ.get(f"MLAPPS_CREDIT_{key.upper()}")
        if value:
            found[key] = float(value)
    return found


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    # 1. configuration: defaults, then environment, then the test's overrides
    app.config.from_mapping(
        CREDIT_MODEL_NAME=CHAMPION,
        CREDIT_POLICY=_policy_from_environment(),
        CREDIT_MONITORING_WINDOW=1000,
        CREDIT_DATABASE_URL=None,
        CREDIT_MODEL_CHECK_INTERVAL=0.5,
    )
    if test_config:
        app.config.update(test_config)

    # 2. shared glue: errors, security headers, CSRF, body limit, /healthz /readyz /openapi.json /docs
    mf.init_app(
        app,
        title="Credit risk scoring",
        version="1.0",
        description="Scores loan applicants with an explainable scorecard: probability of default, points, "
        "grade A-E, decision and reason codes. Every decision is logged.",
        nav=[("Score", "web.score_form"), ("Batch", "web.batch_form"), ("Model", "web.model_page"),
             ("Monitoring", "web.monitoring_page"), ("API docs", "/docs")],
    )

    # 3. database: decision log and API tokens (`flask init-db` creates the tables)
    url = app.config["CREDIT_DATABASE_URL"]
    engine = engine_create(url=url) if url else engine_for_app("credit")
    mf.init_db(app, engine, metadata=decisions_metadata)

    # 4. the served model, reloaded when another version is promoted
    current = CurrentModel(registry_from_settings(), app.config["CREDIT_MODEL_NAME"],
                           check_interval=float(app.config["CREDIT_MODEL_CHECK_INTERVAL"]))
    CreditState.install(app, current=current, engine=engine, policy_overrides=app.config["CREDIT_POLICY"])
    mf.readiness_add(app, f"model:{current.name}", mf.model_readiness(current))

    # 5. blueprints
    from credit_flask.api import api
    from credit_flask.web import web

    app.register_blueprint(api)
    app.register_blueprint(web)
    mf.init_login(app, purpose="Credit officers sign in to score applicants (each decision is logged).")

    # ---- extra blueprints: other features register theirs here (e.g. the article-compatible /predict) ----
    from credit_flask.seed import seed_api

    app.register_blueprint(seed_api)
    # ---- end of extra blueprints ----

    # Pooled connections opened while creating tables must not be inherited by forked
    # gunicorn workers (preload_app): each worker opens its own.
    engine.dispose()
    return app
