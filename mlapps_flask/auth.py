"""The app's database engine and bearer-token authentication of API calls.

`init_db(app, engine)` attaches the engine (`engine_get()`), creates the
`api_tokens` table (and the app's own tables) when the database is reachable,
adds a `database` readiness check and a `flask init-db` command.  A database
that is down never crashes the app: requests that need it answer 503.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from flask import Flask, current_app, g, request

from common.auth import TokenStore

from .errors import ProblemError

logger = logging.getLogger("mlapps_flask")
F = TypeVar("F", bound=Callable[..., Any])
_BEARER = re.compile(r"^Bearer[ ]+(?P<token>\S+)\s*$", re.IGNORECASE)


class _DatabaseState:
    def __init__(self, engine: sa.Engine, metadata: tuple[sa.MetaData, ...]) -> None:
        self.engine = engine
        self.metadata = metadata
        self.tables_ready = False

    def tables_create(self) -> None:
        TokenStore(self.engine).create_table()
        for meta in self.metadata:
            meta.create_all(self.engine)
        self.tables_ready = True


def init_db(app: Flask, engine: sa.Engine, *, metadata: sa.MetaData | Iterable[sa.MetaData] = ()) -> None:
    """Attach `engine` to `app`: tables created if reachable, `database` readiness check, `flask init-db`."""
    metas = (metadata,) if isinstance(metadata, sa.MetaData) else tuple(metadata)
    state = _DatabaseState(engine, metas)
    app.extensions["mlapps_engine"] = engine
    app.extensions["mlapps_db"] = state
    try:
        state.tables_create()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        logger.warning("database unavailable at start-up (requests that need it answer 503): %s", exc.orig)

    from .health import readiness_add  # late import: health imports nothing from here

    readiness_add(app, "database", functools.partial(database_status, engine=engine))

    if "init-db" not in app.cli.commands:

        @app.cli.command("init-db")
        def init_db_command() -> None:
            """Create the app's tables (idempotent)."""
            state.tables_create()
            click.echo(f"tables ready in {engine.url.render_as_string(hide_password=True)}")


def engine_get() -> sa.Engine:
    """The engine attached by `init_db` to the current app."""
    try:
        return current_app.extensions["mlapps_engine"]
    except KeyError:
        raise RuntimeError("call mlapps_flask.init_db(app, engine) in the app factory") from None


def database_status(*, engine: sa.Engine) -> tuple[bool, str]:
    """(ok, reason) for `/readyz`: can we run `SELECT 1`?"""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        return False, f"database unavailable: {type(exc.orig).__name__ if exc.orig else type(exc).__name__}"
    return True, f"{engine.dialect.name} reachable"


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})


def token_check() -> str:
    """Check `Authorization: Bearer <token>`; the owner's name is returned and kept in `g.api_client`."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise _unauthorized("this operation needs an API token: send 'Authorization: Bearer <token>'")
    match = _BEARER.match(header)
    if match is None:
        raise _unauthorized("malformed Authorization header: expected 'Bearer <token>'")
    state: _DatabaseState | None = current_app.extensions.get("mlapps_db")
    if state is None:
        raise RuntimeError("token auth needs mlapps_flask.init_db(app, engine)")
    if not state.tables_ready:
        state.tables_create()  # the database was down at start-up; raises (-> 503) while it still is
    owner = TokenStore(state.engine).token_verify(match.group("token"))
    if owner is None:
        raise _unauthorized("invalid or revoked API token")
    g.api_client = owner
    return owner


def token_required(view: F) -> F:
    """Decorator for views outside `ApiBlueprint.operation(auth=True)`."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token_check()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
