"""The maintenance app's resources: the two served models, the database engine and the alert policy."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

import mlapps_flask as mf
from common.maintenance.compiled import failure_scorer
from common.maintenance.models import FailureRiskModel, RulModel
from common.maintenance.store import AlertPolicy
from common.registry import CurrentModel, LoadedModel, ModelUnavailableError


@dataclasses.dataclass
class MaintenanceState:
    failure: CurrentModel
    rul: CurrentModel
    engine: sa.Engine
    rul_horizon_cycles: int
    refresh_seconds: int
    history_readings: int
    _charts: dict[str, Any] = dataclasses.field(default_factory=dict)
    _charts_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    @classmethod
    def install(cls, app: Flask, **kwargs: Any) -> MaintenanceState:
        state = cls(**kwargs)
        app.extensions["maintenance"] = state
        return state

    def failure_loaded(self) -> LoadedModel:
        """The served failure model, or a 503 problem."""
        return mf.model_get(self.failure)

    def failure_model(self) -> FailureRiskModel:
        return self.failure_loaded().artifact

    def rul_loaded(self) -> LoadedModel:
        """The served RUL model, or a 503 problem."""
        return mf.model_get(self.rul)

    def rul_model_optional(self) -> RulModel | None:
        """The RUL model when one is served (ingestion still scores failure risk without it)."""
        loaded = self.rul_optional()
        return loaded.artifact if loaded is not None else None

    def failure_optional(self) -> LoadedModel | None:
        try:
            return self.failure.get()
        except ModelUnavailableError:
            return None

    def failure_scorer_warm(self) -> None:
        """Build the served failure model's compiled scorer now (compiling its walk), if a model is trained.

        Called by the app factory: with gunicorn's preload the master pays the compilation once and
        every worker inherits it; without a model yet, the first request after training builds it.
        """
        loaded = self.failure_optional()
        if loaded is not None:
            failure_scorer(loaded=loaded)

    def rul_optional(self) -> LoadedModel | None:
        try:
            return self.rul.get()
        except ModelUnavailableError:
            return None

    def policy(self) -> AlertPolicy:
        return AlertPolicy(failure_threshold=float(self.failure_model().threshold_),
                           rul_horizon_cycles=self.rul_horizon_cycles)

    def policy_optional(self) -> AlertPolicy | None:
        loaded = self.failure_optional()
        if loaded is None:
            return None
        return AlertPolicy(failure_threshold=float(loaded.artifact.threshold_), rul_horizon_cycles=self.rul_horizon_cycles)

    def chart_cached(self, key: str, build: Any) -> Any:
        """Charts of a model version never change: build once per version."""
        with self._charts_lock:
            if key not in self._charts:
                if len(self._charts) > 16:
                    self._charts.clear()
                self._charts[key] = build()
            return self._charts[key]


def maintenance_state() -> MaintenanceState:
    return current_app.extensions["maintenance"]
