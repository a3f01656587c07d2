"""API tokens for the Flask apps: created and revoked from the CLI, stored hashed.

A token is shown once, when created; the database keeps only its sha256 (the
token carries 256 random bits, so a fast hash is enough and lookups stay O(1)).
The Django app keeps its tokens in its own ORM model with the same format.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from common.db import DriverStatement

TOKEN_PREFIX = "mlapps_"

_metadata = sa.MetaData()
api_tokens = sa.Table(
    "api_tokens",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

# Read on every authenticated call: compiled once, run on the pooled DB-API connection (`DriverStatement`).
_LIVE_TOKEN_OWNER = DriverStatement(sa.select(api_tokens.c.name).where(
    api_tokens.c.token_sha256 == sa.bindparam("token_sha256"), api_tokens.c.revoked_at.is_(None)
))


def token_generate() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Hashed API tokens in an app's own database (table `api_tokens`)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create_table(self) -> None:
        _metadata.create_all(self.engine, tables=[api_tokens])

    def token_create(self, *, name: str) -> str:
        """Store a new token for `name` and return it (the only time it is visible)."""
        self.create_table()
        token = token_generate()
        with self.engine.begin() as conn:
            conn.execute(
                api_tokens.insert().values(
                    name=name, token_sha256=token_hash(token), created_at=dt.datetime.now(dt.UTC)
                )
            )
        return token

    def token_revoke(self, *, name: str) -> int:
        """Revoke every live token of `name`; returns how many were revoked."""
        self.create_table()
        with self.engine.begin() as conn:
            result = conn.execute(
                api_tokens.update()
                .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=dt.datetime.now(dt.UTC))
            )
        return result.rowcount

    def token_list(self) -> list[dict[str, object]]:
        self.create_table()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.id)).mappings().all()
        return [
            {"id": r["id"], "name": r["name"], "created_at": r["created_at"], "revoked": r["revoked_at"] is not None}
            for r in rows
        ]

    def token_verify(self, token: str | None) -> str | None:
        """The name that owns a live token, or None (unknown, revoked or malformed).

        Exact on every call (one indexed read), so a revocation from any process is
        honoured on the next request.
        """
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        return self.hash_owner(token_hash(token))

    def hash_owner(self, token_sha256: str) -> str | None:
        """The name that owns the live token with this sha256 (a signed-in session keeps only the hash)."""
        row = _LIVE_TOKEN_OWNER.execute(self.engine, {"token_sha256": token_sha256})
        return row[0] if row else None
