"""API authentication: `Authorization: Bearer mlapps_...` tokens or the Django session (with CSRF)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from recommender_django.accounts.services import api_token_verify
from recommender_django.handlers import session_user


class TokenAuth(HttpBearer):
    """Hashed API tokens created with `mlapps tokens create recommender NAME`."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_verify(token=token)
        if user is not None:
            request.user = user
        return user


class SessionCsrfAuth(SessionAuth):
    """The Django session, CSRF-checked; a caller without a session cookie gets 401, not a CSRF 403."""

    def __call__(self, request: HttpRequest) -> Any:
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return None
        return super().__call__(request)


token_auth = TokenAuth()
session_auth = SessionCsrfAuth(csrf=True)
AUTH = [token_auth, session_auth]


def requester(request: HttpRequest) -> AbstractBaseUser | None:
    """Who is calling an endpoint that works without authentication too (token first, then session).

    The session's user comes from `session_user`: a request in the short middleware chain
    (handlers.py) that gets that far is answered again by the full chain."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return api_token_verify(token=header[7:].strip())
    user = session_user(request)
    return user if user is not None and user.is_authenticated else None
