"""Machines, readings and alerts in SQLAlchemy (SQLite by default, any DATABASE_URL).

Ingestion is idempotent on (machine, timestamp): readings are inserted with
`ON CONFLICT DO NOTHING`, so a resent batch stores nothing twice and concurrent
clients never fail on each other's rows.  Each stored reading is scored on
arrival (P(failure); RUL when it carries engine data).  An alert is raised when
P(failure) reaches the alert threshold or RUL falls below the horizon; at most
one alert per machine and kind is open at a time (a unique `open_key`, cleared
on acknowledgement), so a machine that stays in danger is not re-alerted on
every reading, and a new alert can follow an acknowledged one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from common.maintenance.explanations import physics_conditions
from common.maintenance.features import ENGINE_COLUMNS, READING_COLUMNS, RUL_LONG_WINDOW, physics_features
from common.maintenance.models import FailureRiskModel, RulModel
from common.maintenance.prediction import rul_history_predict
from common.maintenance.schemas import TelemetryReadingIn

Status = Literal["ok", "warning", "critical", "unknown"]
# Enough history for every windowed feature (90-cycle slope, EWM settles in ~60 cycles).
RUL_HISTORY_CYCLES = RUL_LONG_WINDOW + 30
DEFAULT_RUL_HORIZON_CYCLES = 30

metadata = sa.MetaData()
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

machines = sa.Table(
    "maintenance_machines",
    metadata,
    sa.Column("machine_id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_reading_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("latest_failure_probability", sa.Float, nullable=True),
    sa.Column("latest_rul_cycles", sa.Float, nullable=True),
    sa.Column("status", sa.String(16), nullable=False, server_default="unknown"),
)

readings = sa.Table(
    "maintenance_readings",
    metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("machine_id", sa.String(64), sa.ForeignKey("maintenance_machines.machine_id"), nullable=False),
    sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
    sa.Column("product_type", sa.String(1), nullable=False),
    sa.Column("air_temperature_k", sa.Float, nullable=False),
    sa.Column("process_temperature_k", sa.Float, nullable=False),
    sa.Column("rotational_speed_rpm", sa.Float, nullable=False),
    sa.Column("torque_nm", sa.Float, nullable=False),
    sa.Column("tool_wear_min", sa.Float, nullable=False),
    sa.Column("engine_cycle", sa.Integer, nullable=True),
    sa.Column("engine", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("failure_probability", sa.Float, nullable=True),
    sa.Column("mode_probabilities", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("rul_cycles", sa.Float, nullable=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("machine_id", "timestamp", name="uq_maintenance_reading_machine_time"),
)
sa.Index("ix_maintenance_readings_machine_time", readings.c.machine_id, readings.c.timestamp.desc())

alerts = sa.Table(
    "maintenance_alerts",
    metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("machine_id", sa.String(64), sa.ForeignKey("maintenance_machines.machine_id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("reading_timestamp", sa.DateTime(timezone=True), nullable=False),
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("acknowledged_by", sa.String(100), nullable=True),
    # "<machine>:<kind>" while open, NULL once acknowledged: one open alert per machine and kind.
    sa.Column("open_key", sa.String(100), nullable=True, unique=True),
)
sa.Index("ix_maintenance_alerts_raised", alerts.c.raised_at.desc())


class AlertNotFoundError(LookupError):
    pass


class MachineNotFoundError(LookupError):
    pass


@dataclasses.dataclass(frozen=True)
class AlertPolicy:
    """When readings raise alerts and how machines are coloured."""

    failure_threshold: float
    rul_horizon_cycles: int = DEFAULT_RUL_HORIZON_CYCLES

    def status(self, *, failure_probability: float | None, rul_cycles: float | None) -> Status:
        if failure_probability is None and rul_cycles is None:
            return "unknown"
        risk = failure_probability or 0.0
        if risk >= self.failure_threshold or (rul_cycles is not None and rul_cycles < self.rul_horizon_cycles):
            return "critical"
        if risk >= self.failure_threshold / 2 or (rul_cycles is not None and rul_cycles < 2 * self.rul_horizon_cycles):
            return "warning"
        return "ok"


@dataclasses.dataclass
class IngestResult:
    machine_id: str
    received: int
    stored: int
    duplicates: int
    alerts_raised: int
    latest_failure_probability: float | None
    latest_rul_cycles: float | None
    status: Status


def tables_create(*, engine: sa.Engine) -> None:
    metadata.create_all(engine)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes: they were stored as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _insert(engine_or_conn: sa.Engine | sa.Connection, table: sa.Table) -> Any:
    """INSERT that supports ON CONFLICT DO NOTHING on this backend."""
    name = engine_or_conn.dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise RuntimeError(f"the maintenance store supports SQLite and PostgreSQL, not {name}")


# --------------------------------------------------------------------------- ingestion
def reading_ingest(
    *,
    engine: sa.Engine,
    machine_id: str,
    batch: Sequence[TelemetryReadingIn],
    failure_model: FailureRiskModel,
    rul_model: RulModel | None,
    policy: AlertPolicy,
) -> IngestResult:
    """Store, score and alert on a batch of one machine's readings (idempotent on timestamp)."""
    unique: dict[dt.datetime, TelemetryReadingIn] = {}
    for reading in batch:
        unique.setdefault(reading.timestamp, reading)
    ordered = sorted(unique.values(), key=lambda r: r.timestamp)
    frame = pd.DataFrame([{c: getattr(r, c) for c in READING_COLUMNS} for r in ordered], columns=list(READING_COLUMNS))
    scores = failure_model.predict_proba_frame(frame) if ordered else pd.DataFrame()
    received_at = _now()
    rows = []
    for i, reading in enumerate(ordered):
        engine_values = reading.engine.model_dump() if reading.engine is not None else None
        rows.append({
            "machine_id": machine_id,
            "timestamp": reading.timestamp,
            **{c: getattr(reading, c) for c in READING_COLUMNS},
            "engine_cycle": engine_values["cycle"] if engine_values else None,
            "engine": engine_values,
            "failure_probability": float(scores["failure_probability"].iloc[i]),
            "mode_probabilities": {k: round(float(scores[k].iloc[i]), 4)
                                   for k in ("tool_wear", "heat_dissipation", "power", "overstrain")},
            "rul_cycles": None,
            "received_at": received_at,
        })

    with engine.begin() as conn:
        # A write first: on SQLite this takes the write lock before any read, so
        # concurrent ingestions queue on busy_timeout instead of failing.
        conn.execute(_insert(conn, machines).values(
            machine_id=machine_id, created_at=received_at, status="unknown").on_conflict_do_nothing())
        stored_ids: dict[dt.datetime, int] = {}
        if rows:
            statement = (_insert(conn, readings).on_conflict_do_nothing(index_elements=["machine_id", "timestamp"])
                         .returning(readings.c.id, readings.c.timestamp))
            for row in conn.execute(statement, rows):
                stored_ids[_utc(row.timestamp)] = row.id
        stored = [r for r in rows if _utc(r["timestamp"]) in stored_ids]
        rul_values = _score_rul(conn, machine_id=machine_id, stored=stored, rul_model=rul_model)
        for row in stored:
            rul = rul_values.get(_utc(row["timestamp"]))
            row["rul_cycles"] = rul
            if rul is not None:
                conn.execute(readings.update().where(readings.c.id == stored_ids[_utc(row["timestamp"])])
                             .values(rul_cycles=rul))
        raised = _alerts_raise(conn, machine_id=machine_id, stored=stored, policy=policy)
        latest = _machine_refresh(conn, machine_id=machine_id, policy=policy)
    return IngestResult(
        machine_id=machine_id, received=len(batch), stored=len(stored), duplicates=len(batch) - len(stored),
        alerts_raised=raised, latest_failure_probability=latest["latest_failure_probability"],
        latest_rul_cycles=latest["latest_rul_cycles"], status=latest["status"],
    )


def _score_rul(
    conn: sa.Connection, *, machine_id: str, stored: list[dict[str, Any]], rul_model: RulModel | None
) -> dict[dt.datetime, float]:
    """RUL of each stored reading with engine data, from the machine's recent engine history."""
    with_engine = [r for r in stored if r["engine"] is not None]
    if rul_model is None or not with_engine:
        return {}
    newest = max(r["timestamp"] for r in with_engine)
    oldest = min(r["timestamp"] for r in with_engine)
    history_rows = conn.execute(
        sa.select(readings.c.timestamp, readings.c.engine)
        .where(readings.c.machine_id == machine_id, readings.c.engine_cycle.is_not(None), readings.c.timestamp < oldest)
        .order_by(readings.c.timestamp.desc())
        .limit(RUL_HISTORY_CYCLES)
    ).all()
    recent = conn.execute(
        sa.select(readings.c.timestamp, readings.c.engine)
        .where(readings.c.machine_id == machine_id, readings.c.engine_cycle.is_not(None),
               readings.c.timestamp >= oldest, readings.c.timestamp <= newest)
        .order_by(readings.c.timestamp)
    ).all()
    timeline = sorted([*history_rows, *recent], key=lambda row: _utc(row.timestamp))
    history = pd.DataFrame([row.engine for row in timeline], columns=list(ENGINE_COLUMNS))
    predicted = rul_history_predict(model=rul_model, history=history)
    wanted = {_utc(r["timestamp"]) for r in with_engine}
    return {_utc(row.timestamp): round(float(value), 2)
            for row, value in zip(timeline, predicted, strict=True) if _utc(row.timestamp) in wanted}


def _alerts_raise(
    conn: sa.Connection, *, machine_id: str, stored: list[dict[str, Any]], policy: AlertPolicy
) -> int:
    raised = 0
    risky = [r for r in stored if r["failure_probability"] >= policy.failure_threshold]
    if risky:
        worst = max(risky, key=lambda r: r["failure_probability"])
        frame = pd.DataFrame([{c: worst[c] for c in READING_COLUMNS}])
        conditions = physics_conditions(features=physics_features(readings=frame).iloc[0], product_type=worst["product_type"])
        reason = "; ".join(c["message"] for c in conditions) or "no single physics condition; see the model's features"
        message = (f"P(failure) {worst['failure_probability']:.2f} reached the alert threshold "
                   f"{policy.failure_threshold:.2f}: {reason}")
        raised += _alert_insert(conn, machine_id=machine_id, kind="failure_risk", message=message,
                                value=worst["failure_probability"], threshold=policy.failure_threshold,
                                reading_timestamp=worst["timestamp"])
    short = [r for r in stored if r["rul_cycles"] is not None and r["rul_cycles"] < policy.rul_horizon_cycles]
    if short:
        first = min(short, key=lambda r: r["timestamp"])
        message = (f"remaining useful life {first['rul_cycles']:.0f} cycles, below the "
                   f"{policy.rul_horizon_cycles}-cycle horizon (engine cycle {first['engine_cycle']})")
        raised += _alert_insert(conn, machine_id=machine_id, kind="rul", message=message, value=first["rul_cycles"],
                                threshold=float(policy.rul_horizon_cycles), reading_timestamp=first["timestamp"])
    return raised


def _alert_insert(conn: sa.Connection, *, machine_id: str, kind: str, message: str, value: float, threshold: float,
                  reading_timestamp: dt.datetime) -> int:
    statement = _insert(conn, alerts).values(
        machine_id=machine_id, kind=kind, message=message, value=float(value), threshold=float(threshold),
        reading_timestamp=reading_timestamp, raised_at=_now(), open_key=f"{machine_id}:{kind}",
    ).on_conflict_do_nothing(index_elements=["open_key"])
    return conn.execute(statement).rowcount or 0


def _machine_refresh(conn: sa.Connection, *, machine_id: str, policy: AlertPolicy) -> dict[str, Any]:
    """Set the machine's latest risk, RUL and status from its newest readings."""
    newest = conn.execute(
        sa.select(readings.c.timestamp, readings.c.failure_probability)
        .where(readings.c.machine_id == machine_id).order_by(readings.c.timestamp.desc()).limit(1)
    ).first()
    newest_rul = conn.execute(
        sa.select(readings.c.rul_cycles)
        .where(readings.c.machine_id == machine_id, readings.c.rul_cycles.is_not(None))
        .order_by(readings.c.timestamp.desc()).limit(1)
    ).scalar()
    probability = float(newest.failure_probability) if newest and newest.failure_probability is not None else None
    rul = float(newest_rul) if newest_rul is not None else None
    status = policy.status(failure_probability=probability, rul_cycles=rul)
    values = {"last_reading_at": newest.timestamp if newest else None, "latest_failure_probability": probability,
              "latest_rul_cycles": rul, "status": status}
    conn.execute(machines.update().where(machines.c.machine_id == machine_id).values(**values))
    return values


# --------------------------------------------------------------------------- reading back
def _machine_out(row: Any, *, readings_count: int, open_alerts: int) -> dict[str, Any]:
    return {
        "machine_id": row.machine_id,
        "status": row.status,
        "latest_failure_probability": row.latest_failure_probability,
        "latest_rul_cycles": row.latest_rul_cycles,
        "last_reading_at": _utc(row.last_reading_at),
        "readings": int(readings_count),
        "open_alerts": int(open_alerts),
    }


def machine_list(*, engine: sa.Engine) -> list[dict[str, Any]]:
    """Every machine with its status, latest risk / RUL, reading count and open alerts (worst first)."""
    counts = (sa.select(readings.c.machine_id, sa.func.count().label("n")).group_by(readings.c.machine_id).subquery())
    open_counts = (sa.select(alerts.c.machine_id, sa.func.count().label("n"))
                   .where(alerts.c.acknowledged_at.is_(None)).group_by(alerts.c.machine_id).subquery())
    severity = sa.case({"critical": 0, "warning": 1, "ok": 2}, value=machines.c.status, else_=3)
    statement = (
        sa.select(machines, sa.func.coalesce(counts.c.n, 0).label("readings_count"),
                  sa.func.coalesce(open_counts.c.n, 0).label("open_count"))
        .outerjoin(counts, counts.c.machine_id == machines.c.machine_id)
        .outerjoin(open_counts, open_counts.c.machine_id == machines.c.machine_id)
        .order_by(severity, machines.c.machine_id)
    )
    with engine.connect() as conn:
        return [_machine_out(row, readings_count=row.readings_count, open_alerts=row.open_count)
                for row in conn.execute(statement)]


def machine_get(*, engine: sa.Engine, machine_id: str, history: int = 200) -> dict[str, Any]:
    """One machine and its newest `history` readings (oldest first)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(machines).where(machines.c.machine_id == machine_id)).first()
        if row is None:
            raise MachineNotFoundError(f"no machine {machine_id!r}")
        count = conn.execute(sa.select(sa.func.count()).where(readings.c.machine_id == machine_id)).scalar_one()
        open_count = conn.execute(sa.select(sa.func.count()).where(
            alerts.c.machine_id == machine_id, alerts.c.acknowledged_at.is_(None))).scalar_one()
        rows = conn.execute(
            sa.select(readings).where(readings.c.machine_id == machine_id)
            .order_by(readings.c.timestamp.desc()).limit(history)
        ).all()
    result = _machine_out(row, readings_count=count, open_alerts=open_count)
    result["history"] = [
        {"timestamp": _utc(r.timestamp), **{c: getattr(r, c) for c in READING_COLUMNS},
         "engine_cycle": r.engine_cycle, "failure_probability": r.failure_probability, "rul_cycles": r.rul_cycles}
        for r in reversed(rows)
    ]
    return result


def alert_list(
    *, engine: sa.Engine, open_only: bool = False, machine_id: str | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[dict[str, Any]], int]:
    """Alerts, newest first, with the total count for paging."""
    conditions = []
    if open_only:
        conditions.append(alerts.c.acknowledged_at.is_(None))
    if machine_id is not None:
        conditions.append(alerts.c.machine_id == machine_id)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(alerts).where(*conditions)).scalar_one()
        rows = conn.execute(
            sa.select(alerts).where(*conditions).order_by(alerts.c.raised_at.desc(), alerts.c.id.desc())
            .offset(offset).limit(limit)
        ).all()
    return [_alert_out(r) for r in rows], int(total)


def _alert_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "machine_id": row.machine_id, "kind": row.kind, "message": row.message,
        "value": row.value, "threshold": row.threshold, "reading_timestamp": _utc(row.reading_timestamp),
        "raised_at": _utc(row.raised_at), "acknowledged_at": _utc(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
    }


def alert_acknowledge(*, engine: sa.Engine, alert_id: int, by: str) -> dict[str, Any]:
    """Acknowledge an alert (idempotent: acknowledging twice keeps the first acknowledgement)."""
    with engine.begin() as conn:
        conn.execute(
            alerts.update().where(alerts.c.id == alert_id, alerts.c.acknowledged_at.is_(None))
            .values(acknowledged_at=_now(), acknowledged_by=by[:100], open_key=None)
        )
        row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
    if row is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    return _alert_out(row)


def fleet_summary(*, engine: sa.Engine) -> dict[str, int]:
    """Machines per status and open alerts (dashboard header)."""
    with engine.connect() as conn:
        by_status = dict(conn.execute(sa.select(machines.c.status, sa.func.count()).group_by(machines.c.status)).all())
        open_alerts = conn.execute(sa.select(sa.func.count()).where(alerts.c.acknowledged_at.is_(None))).scalar_one()
    return {"ok": int(by_status.get("ok", 0)), "warning": int(by_status.get("warning", 0)),
            "critical": int(by_status.get("critical", 0)), "unknown": int(by_status.get("unknown", 0)),
            "open_alerts": int(open_alerts)}
