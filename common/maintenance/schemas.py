"""Request and response schemas of the maintenance API (pydantic v2; inputs and outputs separate).

The reading schema (JSON; CSV uses the same names as flat columns, see `reading_from_flat`)::

    {"timestamp": "2024-05-01T12:00:00Z",           # ingestion only; idempotency key with the machine
     "product_type": "L",                            # L, M or H
     "air_temperature_k": 300.1, "process_temperature_k": 310.0,
     "rotational_speed_rpm": 1500, "torque_nm": 40.2, "tool_wear_min": 108,
     "engine": {"cycle": 57, "setting_1": 0.0002, "setting_2": -0.0003, "setting_3": 100.0,
                "s1": 518.67, ..., "s21": 23.42}}   # optional: C-MAPSS-style engine cycle, for RUL

Physically impossible values are refused with a 422 naming each field:
non-positive speed, negative torque or wear, temperatures outside 250-350 K
(air) / 250-400 K (process), a process colder than the air by more than 5 K,
unknown product types, non-finite numbers, unknown fields.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from common.maintenance.features import ENGINE_SENSORS

STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
MACHINE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
ProductType = Literal["L", "M", "H"]
# Largest magnitude accepted for an engine sensor (C-MAPSS values stay below 10,000).
ENGINE_VALUE_LIMIT = 1e6


def _utc(value: dt.datetime) -> dt.datetime:
    """Timestamps are stored in UTC; a timestamp without zone is read as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


UtcDatetime = Annotated[dt.datetime, AfterValidator(_utc)]


class ReadingIn(BaseModel):
    """One milling-machine process: product type and the five sensors."""

    model_config = STRICT

    product_type: ProductType = Field(description="Product quality variant: L, M or H")
    air_temperature_k: float = Field(ge=250.0, le=350.0, description="Air temperature, kelvin")
    process_temperature_k: float = Field(ge=250.0, le=400.0, description="Process temperature, kelvin")
    rotational_speed_rpm: float = Field(gt=0.0, le=10_000.0, description="Spindle speed, rpm (positive)")
    torque_nm: float = Field(ge=0.0, le=1_000.0, description="Torque, Nm")
    tool_wear_min: float = Field(ge=0.0, le=10_000.0, description="Tool wear, minutes of use")

    @field_validator("process_temperature_k")
    @classmethod
    def _process_not_far_below_air(cls, value: float, info: Any) -> float:
        air = info.data.get("air_temperature_k")
        if air is not None and value < air - 5.0:
            raise ValueError(f"process temperature {value} K is more than 5 K below the air temperature {air} K")
        return value


_engine_fields: dict[str, Any] = {
    "cycle": (int, Field(ge=1, le=1_000_000, description="Engine cycle number (restarts at 1 after an overhaul)")),
    "setting_1": (float, Field(default=0.0, ge=-ENGINE_VALUE_LIMIT, le=ENGINE_VALUE_LIMIT)),
    "setting_2": (float, Field(default=0.0, ge=-ENGINE_VALUE_LIMIT, le=ENGINE_VALUE_LIMIT)),
    "setting_3": (float, Field(default=100.0, ge=-ENGINE_VALUE_LIMIT, le=ENGINE_VALUE_LIMIT)),
    **{s: (float, Field(ge=-ENGINE_VALUE_LIMIT, le=ENGINE_VALUE_LIMIT)) for s in ENGINE_SENSORS},
}
EngineCycleIn = create_model(  # one field per C-MAPSS column, all sensors required
    "EngineCycleIn",
    __config__=STRICT,
    __doc__="One engine cycle in C-MAPSS format: cycle number, 3 operational settings, sensors s1..s21.",
    **_engine_fields,
)


class TelemetryReadingIn(ReadingIn):
    """A reading sent to `POST /machines/{id}/readings`: a timestamp, the process, optionally an engine cycle."""

    timestamp: UtcDatetime = Field(description="When the reading was taken (ISO 8601; UTC if no zone)")
    engine: EngineCycleIn | None = Field(default=None, description="Engine cycle sensors, for remaining useful life")


class RulRequestIn(BaseModel):
    """A sequence of one engine's cycles, oldest first; RUL is predicted at the last one."""

    model_config = STRICT

    cycles: list[EngineCycleIn] = Field(min_length=1, max_length=5_000)

    @model_validator(mode="after")
    def _cycles_increase(self) -> RulRequestIn:
        numbers = [c.cycle for c in self.cycles]
        if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
            raise ValueError("cycles must be in increasing cycle order (one engine run, oldest first)")
        return self


# --------------------------------------------------------------------------- outputs
class ModeProbabilitiesOut(BaseModel):
    tool_wear: float
    heat_dissipation: float
    power: float
    overstrain: float


class PhysicsOut(BaseModel):
    power_w: float
    temperature_difference_k: float
    strain_min_nm: float
    strain_limit_min_nm: float


class ConditionOut(BaseModel):
    """A documented failure condition the reading meets ("beyond") or is close to ("near")."""

    mode: Literal["tool_wear", "heat_dissipation", "power", "overstrain"]
    status: Literal["near", "beyond"]
    message: str
    value: float
    limit: float
    unit: str


class ContributionOut(BaseModel):
    """How much a feature moved the prediction, against a typical healthy reading."""

    feature: str
    value: float | None
    contribution: float = Field(description="Prediction minus the prediction with this feature at its typical value")


class FailurePredictionOut(BaseModel):
    failure_probability: float
    alert: bool = Field(description="failure_probability >= alert_threshold")
    alert_threshold: float
    mode_probabilities: ModeProbabilitiesOut
    physics: PhysicsOut
    conditions: list[ConditionOut]
    top_features: list[ContributionOut]
    model_version: str


class FailureBatchOut(BaseModel):
    predictions: list[FailurePredictionOut]


class RulPredictionOut(BaseModel):
    remaining_useful_life_cycles: float
    cycle: int
    cap_cycles: int = Field(description="Predictions are capped here: 'at least this many cycles'")
    cycles_used: int
    top_features: list[ContributionOut]
    model_version: str


class IngestOut(BaseModel):
    machine_id: str
    received: int
    stored: int
    duplicates: int
    alerts_raised: int
    latest_failure_probability: float | None
    latest_rul_cycles: float | None
    status: Literal["ok", "warning", "critical"]


class MachineOut(BaseModel):
    machine_id: str
    status: Literal["ok", "warning", "critical", "unknown"]
    latest_failure_probability: float | None
    latest_rul_cycles: float | None
    last_reading_at: dt.datetime | None
    readings: int
    open_alerts: int


class ReadingOut(BaseModel):
    timestamp: dt.datetime
    product_type: str
    air_temperature_k: float
    process_temperature_k: float
    rotational_speed_rpm: float
    torque_nm: float
    tool_wear_min: float
    engine_cycle: int | None
    failure_probability: float | None
    rul_cycles: float | None


class MachineDetailOut(MachineOut):
    history: list[ReadingOut]


class AlertOut(BaseModel):
    id: int
    machine_id: str
    kind: Literal["failure_risk", "rul"]
    message: str
    value: float
    threshold: float
    reading_timestamp: dt.datetime
    raised_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None


class ModelInfoOut(BaseModel):
    name: str
    version: str
    created: str | None
    algorithm: str | None
    dataset: str | None
    data_source: str | None
    metrics: dict[str, float]
    evaluation: dict[str, Any]


class ModelsOut(BaseModel):
    failure: ModelInfoOut | None
    rul: ModelInfoOut | None
    alert_threshold: float | None
    rul_horizon_cycles: int


def reading_from_flat(*, row: dict[str, str]) -> dict[str, Any]:
    """A CSV row (flat columns) -> the JSON reading shape: engine columns nest under `engine`.

    Empty cells count as absent; a row with an empty or absent `cycle` has no engine data.
    """
    engine_keys = set(_engine_fields)
    reading: dict[str, Any] = {}
    engine: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or value == "":
            continue
        (engine if key in engine_keys else reading)[key] = value
    if engine:
        # Sensors without a cycle number still nest, so validation names the missing `engine.cycle`.
        reading["engine"] = engine
    return reading
