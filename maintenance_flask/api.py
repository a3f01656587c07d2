"""REST API `/api/v1`: predictions, telemetry ingestion, fleet, alerts, model card.

Every handler parses, calls one domain function (`common.maintenance`), answers.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import pydantic_core
from flask import Response, current_app, g, request
from pydantic import BaseModel, Field

import mlapps_flask as mf
from common.maintenance import model_card, prediction, store
from common.maintenance.schemas import (
    MACHINE_ID_PATTERN,
    AlertOut,
    FailureBatchOut,
    FailurePredictionOut,
    IngestOut,
    MachineDetailOut,
    MachineOut,
    ModelsOut,
    ReadingIn,
    RulPredictionOut,
    RulRequestIn,
    TelemetryReadingIn,
    reading_from_flat,
)
from common.settings import get_settings
from maintenance_flask.state import maintenance_state

api = mf.ApiBlueprint("maintenance_api", __name__, url_prefix="/api/v1")
READING_COLUMNS_REQUIRED = ("timestamp", "product_type", "air_temperature_k", "process_temperature_k",
                            "rotational_speed_rpm", "torque_nm", "tool_wear_min")
_MACHINE_ID = re.compile(MACHINE_ID_PATTERN)


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` inlined (for hand-written request bodies)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node and node["$ref"].startswith("#/$defs/"):
                return resolve(dict(definitions[node["$ref"].split("/")[-1]]))
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def _one_or_many(model: type[BaseModel], *, csv: bool = False) -> dict[str, Any]:
    single = _inline(model.model_json_schema())
    limit = get_settings().max_csv_rows
    content: dict[str, Any] = {"application/json": {"schema": {"oneOf": [
        single, {"type": "array", "items": single, "minItems": 1, "maxItems": limit}]}}}
    if csv:
        content.update(mf.csv_upload_body(description="CSV with a header row: the reading fields as columns; engine "
                                          "columns (cycle, setting_1..3, s1..s21) optional")["content"])
    return {"required": True, "content": content}


_LISTS: dict[type[BaseModel], Any] = {
    ReadingIn: Annotated[list[ReadingIn], Field(min_length=1)],
    TelemetryReadingIn: Annotated[list[TelemetryReadingIn], Field(min_length=1)],
}


def _readings_parse(model: type[BaseModel], data: Any) -> list[Any]:
    """One reading (a JSON object) or many (an array) -> validated models; 422 names each bad field."""
    if isinstance(data, list):
        limit = get_settings().max_csv_rows
        if len(data) > limit:
            raise mf.ProblemError(422, f"{len(data):,} readings in one request; the limit is {limit:,}",
                                  title="Validation failed", errors=[{"field": "(body)", "message": f"at most {limit:,} readings"}])
        return mf.validate_or_422(_LISTS[model], data)
    return [mf.validate_or_422(model, data)]


def _machine_id_check(machine_id: str) -> str:
    if not _MACHINE_ID.match(machine_id):
        raise mf.ProblemError(422, "invalid machine id", title="Validation failed", errors=[
            {"field": "machine_id", "message": "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"}])
    return machine_id


# --------------------------------------------------------------------------- predictions
@api.operation(
    "POST", "/predict/failure", summary="Failure risk of one reading or many (stateless)", tags=["predictions"],
    description="Send one reading (object) for one prediction, or an array for `{\"predictions\": [...]}`. Each "
    "prediction has P(machine failure), per-mode probabilities, the physics conditions the reading is near and "
    "the features that moved the prediction most.",
    request_body=_one_or_many(ReadingIn), responses={200: FailurePredictionOut | FailureBatchOut}, problems=(415,),
)
def predict_failure() -> Response:
    data = mf.json_body()
    readings = _readings_parse(ReadingIn, data)
    answers = prediction.failure_answers(loaded=maintenance_state().failure_loaded(), readings=readings)
    # The answers are FailurePredictionOut's fields made from validated readings: written as the models' JSON
    # without building the models (the API tests check the bytes against the models').
    body = pydantic_core.to_json({"predictions": answers} if isinstance(data, list) else answers[0])
    return current_app.response_class(body, mimetype="application/json")


@api.operation(
    "POST", "/predict/rul", summary="Remaining useful life of an engine from its cycles", tags=["predictions"],
    description="Send one engine run's cycles, oldest first (C-MAPSS columns); the RUL is predicted at the last "
    "cycle from windowed features (30 and 90 cycles); fewer than 30 cycles give a rough estimate.",
    body=RulRequestIn, responses={200: RulPredictionOut},
)
def predict_rul(*, body: RulRequestIn) -> RulPredictionOut:
    return prediction.rul_predict(loaded=maintenance_state().rul_loaded(), request=body)


# --------------------------------------------------------------------------- telemetry
@api.operation(
    "POST", "/machines/<machine_id>/readings", summary="Ingest telemetry of a machine", tags=["telemetry"],
    description="One reading (object), a JSON array, or a CSV file (text/csv body or multipart field `file`). "
    "Idempotent on (machine, timestamp): a resent reading is not stored twice. Each stored reading is scored "
    "on arrival; alerts are raised when P(failure) reaches the alert threshold or RUL falls below the horizon. "
    "Writes need an API token (`mlapps tokens create maintenance NAME`).",
    request_body=_one_or_many(TelemetryReadingIn, csv=True), responses={200: IngestOut}, auth=True, problems=(415,),
)
def readings_ingest(machine_id: str) -> IngestOut:
    state = maintenance_state()
    _machine_id_check(machine_id)
    if request.mimetype in ("multipart/form-data", "text/csv", "text/plain", "application/csv"):
        table = mf.csv_upload_read(required_columns=READING_COLUMNS_REQUIRED)
        batch = _readings_parse(TelemetryReadingIn, [reading_from_flat(row=row) for row in table.rows])
    else:
        batch = _readings_parse(TelemetryReadingIn, mf.json_body())
    result = store.reading_ingest(
        engine=state.engine, machine_id=machine_id, batch=batch, failure_model=state.failure_model(),
        rul_model=state.rul_model_optional(), policy=state.policy(),
    )
    return IngestOut(**vars(result))


class FleetQuery(mf.PageQuery):
    status: Literal["ok", "warning", "critical", "unknown"] | None = Field(default=None, description="only this status")


@api.operation("GET", "/machines", summary="The fleet: status, latest risk and RUL of each machine",
               tags=["fleet"], query=FleetQuery, responses={200: mf.Page[MachineOut]})
def machines_list(*, query: FleetQuery) -> dict[str, Any]:
    machines = store.machine_list(engine=maintenance_state().engine)
    if query.status:
        machines = [m for m in machines if m["status"] == query.status]
    items = [MachineOut(**m) for m in machines[query.offset:query.offset + query.limit]]
    return mf.page_envelope(items=items, query=query, total=len(machines))


class HistoryQuery(BaseModel):
    history: int = Field(default=200, ge=0, le=5000, description="newest readings to include")


@api.operation("GET", "/machines/<machine_id>", summary="One machine and its reading history", tags=["fleet"],
               query=HistoryQuery, responses={200: MachineDetailOut})
def machine_detail(machine_id: str, *, query: HistoryQuery) -> MachineDetailOut:
    try:
        machine = store.machine_get(engine=maintenance_state().engine, machine_id=machine_id, history=query.history)
    except store.MachineNotFoundError:
        raise mf.ProblemError(404, f"no machine {machine_id!r}") from None
    return MachineDetailOut(**machine)


class AlertQuery(mf.PageQuery):
    open: bool = Field(default=False, description="only alerts not yet acknowledged")
    machine_id: str | None = Field(default=None, pattern=MACHINE_ID_PATTERN)


@api.operation("GET", "/alerts", summary="Alerts, newest first", tags=["alerts"], query=AlertQuery,
               responses={200: mf.Page[AlertOut]})
def alerts_list(*, query: AlertQuery) -> dict[str, Any]:
    items, total = store.alert_list(engine=maintenance_state().engine, open_only=query.open,
                                    machine_id=query.machine_id, offset=query.offset, limit=query.limit)
    return mf.page_envelope(items=[AlertOut(**a) for a in items], query=query, total=total)


@api.operation("POST", "/alerts/<int:alert_id>/ack", summary="Acknowledge an alert", tags=["alerts"],
               responses={200: AlertOut}, auth=True, problems=(404,))
def alert_ack(alert_id: int) -> AlertOut:
    try:
        alert = store.alert_acknowledge(engine=maintenance_state().engine, alert_id=alert_id, by=g.api_client)
    except store.AlertNotFoundError:
        raise mf.ProblemError(404, f"no alert {alert_id}") from None
    return AlertOut(**alert)


@api.operation("GET", "/model", summary="The served models: versions, data, metrics, alert settings",
               tags=["models"], responses={200: ModelsOut})
def model_info() -> ModelsOut:
    state = maintenance_state()
    return model_card.models_describe(failure=state.failure_optional(), rul=state.rul_optional(),
                                      rul_horizon_cycles=state.rul_horizon_cycles)
