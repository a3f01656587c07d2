"""SQLAlchemy engines for the Flask apps: SQLite by default, any DATABASE_URL otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


class DriverStatement:
    """A SQLAlchemy Core statement compiled once per dialect and run straight on the pooled DB-API connection.

    For the few statements on a hot request path (the API token read, the decision-log
    INSERT): SQLAlchemy's `Connection.execute` spends more CPU on its execution
    context than SQLite spends on the statement (~90 µs vs ~25 µs for an indexed
    read on this machine).  Here the statement is compiled once for the engine's dialect,
    each value goes through the column type's own bind processor (JSON, DateTime), and
    the DB-API cursor runs it on a connection checked out from the engine's pool
    (pre-ping, pool limits and SQLite pragmas as usual).  Driver errors are raised as
    SQLAlchemy's (`sqlalchemy.exc.OperationalError` ...) with a lost connection
    invalidated, exactly like `Connection.execute`, so the apps' 503 handling and
    recovery are the same.
    """

    def __init__(self, statement: sa.Executable, *, keys: tuple[str, ...] | None = None) -> None:
        self.statement = statement
        self.keys = keys  # the columns an INSERT/UPDATE sets (compiled `column_keys`)
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def _for(self, dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            sql = self.statement.compile(dialect=dialect, column_keys=list(self.keys) if self.keys else None)
            processors = {}
            for name, bind in sql.binds.items():
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    processors[name] = processor
            order = tuple(sql.positiontup or ()) if sql.positional else None
            compiled = self._compiled[dialect.name] = (sql.string, order, processors)
        return compiled

    def parameters(self, dialect: sa.Dialect, values: Mapping[str, Any]) -> tuple[str, Any]:
        """The dialect's SQL and the driver parameters of `values` (positional or named, as the driver wants)."""
        sql, order, processors = self._for(dialect)
        processed = {name: (processors[name](value) if name in processors else value) for name, value in values.items()}
        return sql, (tuple(processed[name] for name in order) if order is not None else processed)

    def execute(self, engine: sa.Engine, values: Mapping[str, Any], *, commit: bool = False) -> Any:
        """Run with `values`; the first row of the result (RETURNING or SELECT), or None.  `commit` ends the
        transaction (a write), else it is rolled back when the connection returns to the pool."""
        dialect = engine.dialect
        sql, parameters = self.parameters(dialect, values)
        try:
            connection = engine.raw_connection()
        except dialect.loaded_dbapi.Error as exc:  # server down, file unopenable
            raise sa.exc.DBAPIError.instance(sql, parameters, exc, dialect.loaded_dbapi.Error,
                                             connection_invalidated=True, dialect=dialect) from exc
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, parameters)
                row = cursor.fetchone() if cursor.description else None
            finally:
                cursor.close()
            if commit:
                connection.commit()
            return row
        except dialect.loaded_dbapi.Error as exc:
            invalidated = dialect.is_disconnect(exc, connection.dbapi_connection, None)
            if invalidated:
                connection.invalidate(exc)  # a lost connection is not given to the next request
            raise sa.exc.DBAPIError.instance(sql, parameters, exc, dialect.loaded_dbapi.Error,
                                             connection_invalidated=invalidated, dialect=dialect) from exc
        finally:
            connection.close()  # back to the pool (rolled back there unless committed)
