"""Sign-in for the HTML pages: a person signs in with their API token, the session remembers the name.

The same tokens as the API (`mlapps tokens create APP NAME`, stored hashed,
revoked by the CLI) so one credential works for scripts and for people.  The
signed session cookie keeps the name and the token's sha256 (never the token);
every request that asks who is signed in checks that the token is still live,
so revoking it with the CLI signs its sessions out at once.

Usage in an app factory and its views::

    mf.init_login(app, purpose="Operators sign in to acknowledge alerts.")

    @web.post("/alerts/<int:alert_id>/ack")
    @mf.login_required
    def alert_ack(alert_id: int): ...
        ...by=mf.signed_in_user()...

    @web.post("/")
    @mf.login_required(when=production)   # only some deployments protect this form
    def score_submit(): ...

`/login` (GET form, POST token), `/logout` (POST, CSRF-protected), and the
"Sign in" / "name · sign out" item of the navigation bar come with it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, TypeVar, overload
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from common.auth import TokenStore, token_hash

from .auth import engine_get

F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEY = "signed_in_as"
SESSION_TOKEN_KEY = "signed_in_token_sha256"

login_blueprint = Blueprint("login", __name__, template_folder="templates")


@dataclasses.dataclass(frozen=True)
class LoginOptions:
    purpose: str  # shown on the sign-in page: why people sign in here
    landing: str  # where a sign-in without a `next` page lands


def init_login(app: Flask, *, purpose: str, landing: str = "/") -> None:
    """Add `/login` and `/logout`; `purpose` tells people on the sign-in page why they sign in."""
    app.extensions["mlapps_login"] = LoginOptions(purpose=purpose, landing=landing)
    app.register_blueprint(login_blueprint)
    app.context_processor(lambda: {"signed_in_user": _signed_in_user_for_display(), "login_enabled": True})


def signed_in_user() -> str | None:
    """The name of the live token the visitor signed in with, or None (one indexed read per request).

    A session whose token was revoked since is cleared.  Raises SQLAlchemy's error while the
    database is down (a 503), so a write is never let through unchecked.
    """
    if "mlapps_signed_in_user" not in g:
        g.mlapps_signed_in_user = _session_owner()
    return g.mlapps_signed_in_user


def _session_owner() -> str | None:
    name, digest = session.get(SESSION_KEY), session.get(SESSION_TOKEN_KEY)
    if not name or not digest:
        return None
    owner = TokenStore(engine_get()).hash_owner(digest)
    if owner != name:
        session.clear()  # revoked (or renamed) since sign-in
        return None
    return owner


def _signed_in_user_for_display() -> str | None:
    """For the navigation bar: pages that need no database keep working while it is down."""
    try:
        return signed_in_user()
    except sa.exc.DBAPIError:
        return None


def same_site_path(target: str | None) -> str | None:
    """`target` when it is a path of this site, else None (no open redirect after sign-in)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def login_redirect(*, back: str, message: str = "Sign in with your API token to do this.") -> Response:
    """Send the visitor to the sign-in page, coming back to `back` (a same-site path) afterwards."""
    flash(message, "warning")
    return redirect(url_for("login.login_form", next=same_site_path(back) or "/"))


def _back_after_login() -> str:
    """Where a refused request should come back to: the page itself, or for a form post the page it came from."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    explicit = same_site_path(request.form.get("next"))
    if explicit:
        return explicit
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path:
        return referrer.path
    return request.path


@overload
def login_required(view: F) -> F: ...
@overload
def login_required(*, when: bool = True) -> Callable[[F], F]: ...


def login_required(view: F | None = None, *, when: bool = True) -> Any:
    """Decorator: the view runs only for a signed-in visitor (others go to `/login`); `when=False` lets all in."""

    def decorate(inner: F) -> F:
        if not when:
            return inner

        @functools.wraps(inner)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if signed_in_user() is None:
                return login_redirect(back=_back_after_login())
            return inner(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate(view) if view is not None else decorate


def _login_page(*, target: str, error: str | None) -> str:
    return render_template("mlapps_flask/login.html", next=target, error=error,
                           purpose=current_app.extensions["mlapps_login"].purpose)


@login_blueprint.get("/login")
def login_form() -> str:
    return _login_page(target=same_site_path(request.args.get("next")) or "", error=None)


@login_blueprint.post("/login")
def login_submit() -> Response | tuple[str, int]:
    token = request.form.get("token", "").strip()
    target = same_site_path(request.form.get("next")) or current_app.extensions["mlapps_login"].landing
    name = TokenStore(engine_get()).token_verify(token) if token else None
    if name is None:
        return _login_page(target=target, error="Unknown or revoked API token."), 401
    session.clear()  # a new session on sign-in (no fixation)
    session[SESSION_KEY] = name
    session[SESSION_TOKEN_KEY] = token_hash(token)
    flash(f"Signed in as {name}.", "ok")
    return redirect(target)


@login_blueprint.post("/logout")
def logout() -> Response:
    session.clear()
    flash("Signed out.", "info")
    return redirect("/")
