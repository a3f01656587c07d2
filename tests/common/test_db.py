"""common.db: engines and `DriverStatement` (hot-path statements run on the pooled DB-API connection)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from common.db import DriverStatement, engine_create

metadata = sa.MetaData()
events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("score", sa.Float, nullable=True),
)
KEYS = ("created_at", "name", "payload", "score")
INSERT = DriverStatement(events.insert().returning(events.c.id), keys=KEYS)
BY_NAME = DriverStatement(sa.select(events.c.id, events.c.payload).where(events.c.name == sa.bindparam("name")))
ROW = {"created_at": dt.datetime(2026, 11, 28, 4, 5, 6, 789, tzinfo=dt.UTC), "name": "ünïcode 'quoted'",
       "payload": {"inputs": [1, 2.5, None], "text": "a\"b"}, "score": 0.125}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = engine_create(url=f"sqlite:///{tmp_path / 'db.sqlite3'}")
        metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    from tests.credit_flask.support import postgres_database_url

    with postgres_database_url() as url:
        engine = engine_create(url=url)
        metadata.create_all(engine)
        yield engine
        engine.dispose()


def test_a_row_written_on_the_driver_reads_back_as_core_writes_it(engine: sa.Engine) -> None:
    new_id = INSERT.execute(engine, ROW, commit=True)[0]
    with engine.begin() as conn:
        core_id = conn.execute(events.insert(), ROW).inserted_primary_key[0]
        rows = conn.execute(sa.select(events).order_by(events.c.id)).mappings().all()
    assert [row["id"] for row in rows] == [new_id, core_id]
    ours, core = ({k: v for k, v in row.items() if k != "id"} for row in rows)
    assert ours == core  # same bind processing: DateTime text on SQLite, JSON, unicode, quotes
    assert ours["payload"] == ROW["payload"] and ours["name"] == ROW["name"]
    found = BY_NAME.execute(engine, {"name": ROW["name"]})
    assert found[0] == new_id


def test_a_read_without_a_match_is_none_and_an_uncommitted_write_is_rolled_back(engine: sa.Engine) -> None:
    assert BY_NAME.execute(engine, {"name": "nobody"}) is None
    INSERT.execute(engine, ROW)  # no commit: returned to the pool and rolled back
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 0


def test_driver_errors_are_sqlalchemy_errors(engine: sa.Engine) -> None:
    missing = DriverStatement(sa.select(sa.table("no_such_table", sa.column("x"))))
    with pytest.raises(sa.exc.DBAPIError):
        missing.execute(engine, {})
    # the pooled connection is still usable afterwards
    assert INSERT.execute(engine, ROW, commit=True)[0] >= 1


def test_an_unreachable_database_raises_operational_error(tmp_path: Path) -> None:
    # The apps answer sqlalchemy.exc.OperationalError with 503, whichever way the statement ran.
    engine = engine_create(url=f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite3'}")
    (tmp_path / "missing-dir").rmdir()
    with pytest.raises(sa.exc.OperationalError):
        BY_NAME.execute(engine, {"name": "x"})
