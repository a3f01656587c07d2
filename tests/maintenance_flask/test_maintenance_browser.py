"""A real browser opens the dashboard after the simulator has sent readings and sees an alert."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from common.auth import TokenStore
from common.cli import main as mlapps_main
from common.registry import ModelRegistry
from maintenance_flask import create_app
from tests.maintenance_flask.support import POWER_FAILURE_READING, at, telemetry
from tests.support.browser import screenshot
from tests.support.servers import wsgi_server


@pytest.fixture
def live_app(maintenance_registry: ModelRegistry) -> Flask:
    return create_app({"MAINTENANCE_REFRESH_SECONDS": 1})


@pytest.mark.browser
def test_dashboard_after_simulated_readings_shows_alerts(live_app: Flask, page) -> None:  # noqa: ANN001
    import requests

    with wsgi_server(live_app) as base:
        assert mlapps_main(["simulate", "maintenance", "--machines", "5", "--rate", "20", "--count", "2",
                            "--backfill", "40", "--url", base, "--quiet"]) == 0
        page.goto(base + "/")
        cards = page.locator(".machine-card")
        assert cards.count() == 5
        assert page.locator(".machine-card.status-critical").count() >= 1
        open_alerts = int(page.locator("[data-count=open-alerts]").inner_text())
        assert open_alerts >= 1
        screenshot(page, "maintenance")

        # The dashboard refreshes itself: a machine that reports later appears without a reload.
        token = TokenStore(live_app.extensions["maintenance"].engine).token_create(name="browser-test")
        requests.post(f"{base}/api/v1/machines/late-press/readings", json=telemetry(POWER_FAILURE_READING, at=at(0)),
                      headers={"Authorization": f"Bearer {token}"}, timeout=30).raise_for_status()
        page.locator('.machine-card[data-machine="late-press"].status-critical').wait_for(timeout=15_000)
        assert int(page.locator("[data-count=open-alerts]").inner_text()) == open_alerts + 1

        page.click("text=Alerts")
        page.wait_for_url(re.compile(r".*/alerts$"))
        assert page.locator(".alert-row").count() == open_alerts + 1
        assert page.locator(".alert-row", has_text="late-press").locator("text=above the 9,000 W upper limit").count() == 1

        page.locator(".alert-row", has_text="late-press").get_by_role("link", name="late-press").click()
        page.wait_for_url(re.compile(r".*/machines/late-press$"))
        assert page.locator("svg.chart").count() == 6
