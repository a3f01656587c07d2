"""Security headers, request ids, CSRF on HTML forms, production refusal."""

from __future__ import annotations

import re

import pytest

import mlapps_flask as mf
from common.settings import InsecureSettingsError, get_settings

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


@pytest.mark.parametrize(
    "path", ["/notes", "/healthz", "/api/v1/items", "/api/v1/nope", "/no-such-page", "/docs", "/mlapps-static/mlapps.css"]
)
def test_security_headers_on_every_response(client, path: str) -> None:
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == EXPECTED_CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_request_id_is_echoed_and_unsafe_ids_replaced(client) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    replaced = client.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)


def test_html_page_has_no_inline_script_or_style(client) -> None:
    page = client.get("/notes").get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert scripts and all('src="/' in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in page and " style=" not in page and " onclick=" not in page
    assert '<a href="/notes" class="active"' in page  # nav link from init_app(nav=...)


def _csrf_token(client) -> str:
    page = client.get("/notes").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_form_post_without_csrf_token_is_refused(client) -> None:
    response = client.post("/notes", data={"text": "hello"}, headers={"Accept": "text/html"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_form_post_with_csrf_token_is_accepted(client) -> None:
    response = client.post("/notes", data={"text": "hello", "csrf_token": _csrf_token(client)}, follow_redirects=True)
    assert response.status_code == 200
    assert "saved hello" in response.get_data(as_text=True)


def test_api_json_post_needs_no_csrf_token(client) -> None:
    assert client.post("/api/v1/scores/batch", json=[{"income": 1, "age": 20}]).status_code == 201


def test_secret_key_and_body_limit_come_from_settings(app) -> None:
    settings = get_settings()
    assert app.config["SECRET_KEY"] == settings.secret_key
    assert app.config["MAX_CONTENT_LENGTH"] == settings.max_request_bytes


def test_production_mode_refuses_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import Flask

    monkeypatch.setenv("MLAPPS_MODE", "production")
    get_settings.cache_clear()
    with pytest.raises(InsecureSettingsError, match="MLAPPS_SECRET_KEY"):
        mf.init_app(Flask(__name__), title="t", version="1", description="d")
    monkeypatch.setenv("MLAPPS_SECRET_KEY", "x" * 40)
    get_settings.cache_clear()
    app = mf.init_app(Flask(__name__), title="t", version="1", description="d")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
