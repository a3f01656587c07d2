"""The decision log: every scored application, with its inputs, outputs, model version and request id.

SQLAlchemy Core on any database (SQLite file by default, `DATABASE_URL`
otherwise).  Each call is one short transaction, so concurrent scoring from
many clients queues on the database's own locking and loses nothing
(SQLite runs in WAL mode with a busy timeout, see `common.db`).

Writing a decision is on the scoring endpoint's hot path: the single-row
INSERT is compiled once per dialect and run on the pooled DB-API connection
(`common.db.DriverStatement`: about half the CPU of `Connection.execute`); each
write is one connection checkout and one committed transaction, and the new id
comes back with RETURNING in the same round trip (PostgreSQL and SQLite).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from common.db import DriverStatement

decisions_metadata = sa.MetaData()

credit_decisions = sa.Table(
    "credit_decisions",
    decisions_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("request_id", sa.String(128), nullable=False, index=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("batch_row", sa.Integer, nullable=True),
    sa.Column("model_name", sa.String(64), nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False, index=True),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("probability_of_default", sa.Float, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("grade", sa.String(4), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
)

CHANNELS = ("api", "api-batch", "web", "web-batch")

# Built once: `insert().values(**row)` per call is a new statement whose cache key
# SQLAlchemy recomputes from every value (~0.1 ms), executing this one hits the compiled cache.
_DECISION_INSERT = credit_decisions.insert()
# One decision (`_row`: every column but the id), its new id returned.
_DECISION_INSERT_ONE = DriverStatement(
    _DECISION_INSERT.returning(credit_decisions.c.id),
    keys=tuple(column.name for column in credit_decisions.columns if column.name != "id"),
)


def decisions_tables_create(*, engine: sa.Engine) -> None:
    decisions_metadata.create_all(engine)


def _row(*, inputs: Mapping[str, Any], result: Mapping[str, Any], request_id: str, channel: str,
         batch_row: int | None, now: dt.datetime) -> dict[str, Any]:
    return {
        "created_at": now, "request_id": request_id, "channel": channel, "batch_row": batch_row,
        "model_name": result["model"]["name"], "model_version": str(result["model"]["version"]),
        "inputs": _json_safe(inputs), "probability_of_default": float(result["probability_of_default"]),
        "score": int(result["score"]), "grade": result["grade"], "decision": result["decision"],
        "reasons": list(result["reasons"]),
    }


def _json_safe(inputs: Mapping[str, Any]) -> dict[str, Any]:
    safe = {}
    for key, value in inputs.items():
        if isinstance(value, float) and value != value:
            value = None
        elif hasattr(value, "item"):  # numpy scalar
            value = value.item()
            if isinstance(value, float) and value != value:
                value = None
        safe[str(key)] = value
    return safe


def decision_record(*, engine: sa.Engine, inputs: Mapping[str, Any], result: Mapping[str, Any], request_id: str,
                    channel: str) -> int:
    """Store one decision; returns its id."""
    row = _row(inputs=inputs, result=result, request_id=request_id, channel=channel, batch_row=None,
               now=dt.datetime.now(dt.UTC))
    return int(_DECISION_INSERT_ONE.execute(engine, row, commit=True)[0])


def decisions_record_batch(*, engine: sa.Engine, inputs: Sequence[Mapping[str, Any]],
                           results: Sequence[Mapping[str, Any] | None], request_id: str, channel: str) -> int:
    """Store the scored rows of a batch in one transaction (rows whose result is None are skipped)."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        _row(inputs=applicant, result=result, request_id=request_id, channel=channel, batch_row=index, now=now)
        for index, (applicant, result) in enumerate(zip(inputs, results, strict=True))
        if result is not None
    ]
    if rows:
        with engine.begin() as conn:
            conn.execute(_DECISION_INSERT, rows)
    return len(rows)


def _public(row: Mapping[str, Any]) -> dict[str, Any]:
    created = row["created_at"]
    if created.tzinfo is None:  # SQLite returns naive datetimes; they were stored in UTC
        created = created.replace(tzinfo=dt.UTC)
    return {
        "id": row["id"], "created_at": created, "request_id": row["request_id"], "channel": row["channel"],
        "batch_row": row["batch_row"], "model": {"name": row["model_name"], "version": row["model_version"]},
        "inputs": row["inputs"], "probability_of_default": row["probability_of_default"], "score": row["score"],
        "grade": row["grade"], "decision": row["decision"], "reasons": row["reasons"],
    }


def decisions_list(*, engine: sa.Engine, offset: int, limit: int, decision: str | None = None,
                   model_version: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """One page of the log, newest first, and the total count under the same filters."""
    conditions = []
    if decision:
        conditions.append(credit_decisions.c.decision == decision)
    if model_version:
        conditions.append(credit_decisions.c.model_version == model_version)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(credit_decisions).where(*conditions)).scalar_one()
        rows = conn.execute(
            sa.select(credit_decisions).where(*conditions).order_by(credit_decisions.c.id.desc())
            .offset(offset).limit(limit)
        ).mappings().all()
    return [_public(row) for row in rows], int(total)


def decision_get(*, engine: sa.Engine, decision_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(credit_decisions).where(credit_decisions.c.id == decision_id)).mappings().first()
    return _public(row) if row else None


def decisions_recent_inputs(*, engine: sa.Engine, limit: int) -> list[dict[str, Any]]:
    """The inputs of the `limit` most recent decisions (what population stability compares)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(credit_decisions.c.inputs).order_by(credit_decisions.c.id.desc()).limit(limit)
        ).scalars().all()
    return [dict(row) for row in rows]


def decisions_count(*, engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(credit_decisions)).scalar_one())
