"""SQLAlchemy engines for the Flask apps: SQLite by default, any DATABASE_URL otherwise."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from common.settings import AppName, Settings, get_settings


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 (DB-API objects)
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; busy_timeout makes concurrent writers queue, not fail.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def engine_create(*, url: str) -> sa.Engine:
    """An engine for `url`, with the settings each backend needs for concurrent writers."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return sa.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)


def engine_for_app(app: AppName, settings: Settings | None = None) -> sa.Engine:
    settings = settings or get_settings()
    return engine_create(url=settings.database_url_for(app))
