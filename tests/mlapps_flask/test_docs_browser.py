"""Real chromium: Swagger UI renders under the CSP, and the base layout works, with no console error."""

from __future__ import annotations

import pytest

from tests.support.servers import wsgi_server


@pytest.mark.browser
def test_swagger_ui_renders_the_declared_operations(app, page) -> None:
    with wsgi_server(app) as base:
        page.goto(f"{base}/docs")
        page.wait_for_selector("text=Score one applicant", timeout=15000)
        assert page.locator(".opblock").count() == 9
        assert page.locator('[data-path="/api/v1/items/{item_id}"]').count() == 1
        # The scripts ran: the page is Swagger UI, not the <noscript> fallback or an error text.
        assert "Could not load" not in page.inner_text("body")
        page.wait_for_load_state("networkidle")  # the favicon too, before the server stops


@pytest.mark.browser
def test_form_page_posts_with_csrf_and_collapses_nav_on_phones(app, page) -> None:
    with wsgi_server(app) as base:
        page.set_viewport_size({"width": 380, "height": 800})
        page.goto(f"{base}/notes")
        assert page.locator("#site-nav").is_hidden()
        page.click(".nav-toggle")
        assert page.locator("#site-nav").is_visible()
        page.fill("input[name=text]", "from the browser")
        page.click("button[type=submit]")
        page.wait_for_selector(".flash-ok")
        assert page.inner_text(".flash-ok") == "saved from the browser"
        page.wait_for_load_state("networkidle")  # the favicon too, before the server stops
