"""A real browser fills the generated form and sees a decision."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.browser import screenshot
from tests.support.servers import wsgi_server


@pytest.mark.browser
def test_applicant_form_in_a_browser_gives_a_decision(app: Flask, page) -> None:  # noqa: ANN001
    with wsgi_server(app) as base:
        page.goto(base + "/")
        page.select_option("select[name=Home]", "owner")
        page.fill("input[name=Income]", "180")
        page.fill("input[name=Seniority]", "12")
        page.select_option("select[name=Records]", "no")
        page.click("button[type=submit]")
        decision = page.locator("#decision")
        decision.wait_for()
        assert decision.inner_text().strip() in ("Approve", "Review", "Decline")
        assert page.locator("#reasons").is_visible()
        assert page.locator("#grade").inner_text().strip() in list("ABCDE")
        screenshot(page, "credit")

        page.goto(base + "/model")
        assert page.locator("svg.chart").count() == 3
