"""Predictive maintenance served with Flask: failure risk, remaining useful life, telemetry, alerts.

`create_app()` reads top to bottom: configuration, shared glue (mlapps_flask),
database, the two served models, blueprints.  The domain logic lives in
`common.maintenance`; the views here parse, call one domain function, render.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

import mlapps_flask as mf
from common.db import engine_create, engine_for_app
from common.maintenance.store import DEFAULT_RUL_HORIZON_CYCLES, metadata
from common.maintenance.training import FAILURE_MODEL, RUL_MODEL
from common.registry import CurrentModel, registry_from_settings
from maintenance_flask.state import MaintenanceState


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    # 1. configuration: defaults, then environment, then the test's overrides
    app.config.from_mapping(
        MAINTENANCE_DATABASE_URL=None,
        MAINTENANCE_RUL_HORIZON=int(os.environ.get("MLAPPS_MAINTENANCE_RUL_HORIZON", DEFAULT_RUL_HORIZON_CYCLES)),
        MAINTENANCE_REFRESH_SECONDS=int(os.environ.get("MLAPPS_MAINTENANCE_REFRESH_SECONDS", "5")),
        MAINTENANCE_HISTORY_READINGS=300,
        MAINTENANCE_MODEL_CHECK_INTERVAL=0.5,
    )
    if test_config:
        app.config.update(test_config)

    # 2. shared glue: errors, security headers, CSRF, body limit, /healthz /readyz /openapi.json /docs
    mf.init_app(
        app,
        title="Predictive maintenance",
        version="1.0",
        description="Failure risk of milling-machine readings (AI4I 2020) and remaining useful life of engines "
        "(C-MAPSS), with physics explanations; telemetry ingestion, fleet status and alerts.",
        nav=[("Fleet", "web.dashboard"), ("Alerts", "web.alerts_page"), ("What-if", "web.what_if_form"),
             ("Model", "web.model_page"), ("API docs", "/docs")],
    )

    # 3. database: machines, readings, alerts and API tokens (`flask init-db` creates the tables)
    url = app.config["MAINTENANCE_DATABASE_URL"]
    engine = engine_create(url=url) if url else engine_for_app("maintenance")
    mf.init_db(app, engine, metadata=metadata)

    # 4. the served models, reloaded when another version is promoted
    registry = registry_from_settings()
    interval = float(app.config["MAINTENANCE_MODEL_CHECK_INTERVAL"])
    failure = CurrentModel(registry, FAILURE_MODEL, check_interval=interval)
    rul = CurrentModel(registry, RUL_MODEL, check_interval=interval)
    state = MaintenanceState.install(
        app, failure=failure, rul=rul, engine=engine, rul_horizon_cycles=int(app.config["MAINTENANCE_RUL_HORIZON"]),
        refresh_seconds=int(app.config["MAINTENANCE_REFRESH_SECONDS"]),
        history_readings=int(app.config["MAINTENANCE_HISTORY_READINGS"]),
    )
    state.failure_scorer_warm()  # compiled here, in gunicorn's preloaded master, not on a first request
    mf.readiness_add(app, f"model:{FAILURE_MODEL}", mf.model_readiness(failure))
    mf.readiness_add(app, f"model:{RUL_MODEL}", mf.model_readiness(rul))

    # 5. blueprints
    from maintenance_flask.api import api
    from maintenance_flask.web import web

    app.register_blueprint(api)
    app.register_blueprint(web)
    mf.init_login(app, purpose="Operators sign in to acknowledge alerts.", landing="/alerts")
    return app
