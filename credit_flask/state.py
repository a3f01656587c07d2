"""The credit app's resources for one Flask app: served model, compiled scorecard, database engine."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

import mlapps_flask as mf
from common.credit.scorecard import CompiledScorecard
from common.credit.service import ScorecardCache
from common.registry import CurrentModel, LoadedModel


@dataclasses.dataclass
class CreditState:
    current: CurrentModel
    engine: sa.Engine
    cache: ScorecardCache
    openapi_model_ref: str | None = None

    @classmethod
    def install(cls, app: Flask, *, current: CurrentModel, engine: sa.Engine,
                policy_overrides: Mapping[str, Any]) -> CreditState:
        state = cls(current=current, engine=engine, cache=ScorecardCache(policy_overrides=policy_overrides))
        app.extensions["credit"] = state
        return state

    def served(self) -> tuple[LoadedModel, CompiledScorecard]:
        """The loaded model and its compiled scorecard, or a 503 problem when no model is usable."""
        loaded = mf.model_get(self.current)
        return loaded, self.cache.get(loaded)


def credit_state() -> CreditState:
    return current_app.extensions["credit"]
