"""Signing in to the pages with an API token (mlapps_flask.login)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

import mlapps_flask as mf
from common.auth import TokenStore


@pytest.fixture
def login_app(make_app: Callable[..., Flask]) -> Flask:
    app = make_app()
    app.config["WTF_CSRF_ENABLED"] = False
    mf.init_login(app, purpose="Editors sign in to publish.", landing="/notes")

    @app.post("/publish")
    @mf.login_required
    def publish() -> str:
        return f"published by {mf.signed_in_user()}"

    @app.post("/preview")
    @mf.login_required(when=False)
    def preview() -> str:
        return f"preview for {mf.signed_in_user() or 'anyone'}"

    return app


def test_a_visitor_must_sign_in_before_writing_and_comes_back_afterwards(login_app: Flask, token: str) -> None:
    client = login_app.test_client()
    refused = client.post("/publish", headers={"Referer": "http://localhost/notes?draft=1"})
    assert refused.status_code == 302 and refused.headers["Location"] == "/login?next=/notes"

    page = client.get("/login?next=/notes").get_data(as_text=True)
    assert "Editors sign in to publish." in page and 'name="token"' in page

    wrong = client.post("/login", data={"token": "mlapps_not-a-token", "next": "/notes"})
    assert wrong.status_code == 401 and "Unknown or revoked API token" in wrong.get_data(as_text=True)
    signed_in = client.post("/login", data={"token": token, "next": "/notes"})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/notes"
    assert client.post("/publish").get_data(as_text=True) == "published by tester"
    assert "tester &middot; sign out" in client.get("/notes").get_data(as_text=True)

    client.post("/logout")
    assert client.post("/publish").status_code == 302


def test_sign_in_never_redirects_off_site(login_app: Flask, token: str) -> None:
    client = login_app.test_client()
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        signed_in = client.post("/login", data={"token": token, "next": target})
        assert signed_in.headers["Location"] == "/notes", target  # the app's landing page


def test_a_revoked_token_cannot_sign_in(login_app: Flask, engine, token: str) -> None:
    TokenStore(engine).token_revoke(name="tester")
    assert login_app.test_client().post("/login", data={"token": token}).status_code == 401


def test_revoking_the_token_signs_its_sessions_out(login_app: Flask, engine, token: str) -> None:
    client = login_app.test_client()
    client.post("/login", data={"token": token})
    assert client.post("/publish").status_code == 200
    TokenStore(engine).token_revoke(name="tester")  # what `mlapps tokens revoke APP tester` does
    refused = client.post("/publish")
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/login")
    assert "Sign in</a>" in client.get("/notes").get_data(as_text=True)


def test_the_session_cookie_never_holds_the_token(login_app: Flask, token: str) -> None:
    client = login_app.test_client()
    signed_in = client.post("/login", data={"token": token})
    assert token not in signed_in.headers["Set-Cookie"]


def test_views_open_by_configuration_need_no_sign_in(login_app: Flask) -> None:
    assert login_app.test_client().post("/preview").get_data(as_text=True) == "preview for anyone"
