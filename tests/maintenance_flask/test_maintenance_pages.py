"""Server-rendered pages: dashboard, machine page, alerts with acknowledgement, what-if, model card."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.maintenance_flask.support import HEALTHY_READING, POWER_FAILURE_READING, at, telemetry


def _seed(client: FlaskClient, auth: dict) -> None:
    batches = {"ok-1": [telemetry(HEALTHY_READING, at=at(i)) for i in range(5)],
               "bad-1": [telemetry(HEALTHY_READING, at=at(0)), telemetry(POWER_FAILURE_READING, at=at(1))]}
    for machine, readings in batches.items():
        assert client.post(f"/api/v1/machines/{machine}/readings", json=readings, headers=auth).status_code == 200


def _text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def test_dashboard_shows_each_machine_with_its_status_colour(client: FlaskClient, auth: dict) -> None:
    empty = _text(client.get("/"))
    assert "No machine has sent readings yet" in empty and "mlapps simulate maintenance" in empty
    _seed(client, auth)
    page = client.get("/")
    html = _text(page)
    assert page.status_code == 200
    assert re.search(r'class="card machine-card status-critical"[^>]*data-machine="bad-1"', html)
    assert re.search(r'class="card machine-card status-ok"[^>]*data-machine="ok-1"', html)
    assert 'data-count="open-alerts">1<' in html
    assert 'data-refresh-url="/partials/fleet"' in html
    partial = _text(client.get("/partials/fleet"))
    assert "bad-1" in partial and "<html" not in partial


def test_machine_page_has_trend_charts_history_and_open_alerts(client: FlaskClient, auth: dict) -> None:
    _seed(client, auth)
    html = _text(client.get("/machines/bad-1"))
    assert html.count("<svg") == 6
    for title in ("Failure probability over time", "Remaining useful life over time", "Temperatures",
                  "Rotational speed", "Torque", "Tool wear"):
        assert f"<title>{title}</title>" in html
    assert "alert threshold" in html and "Acknowledge" in html and "above the 9,000 W upper limit" in html
    assert "/what-if?product_type=M" in html
    assert client.get("/machines/nope").status_code == 404
    assert "Failure probability over time" in _text(client.get("/partials/machines/bad-1"))


def test_acknowledging_from_the_alert_list_needs_a_signed_in_operator(client: FlaskClient, token: str,
                                                                     auth: dict) -> None:
    _seed(client, auth)
    alerts = _text(client.get("/alerts"))
    alert_id = re.search(r'data-alert="(\d+)"', alerts).group(1)
    assert "above the 9,000 W upper limit" in alerts and "Sign in" in alerts
    refused = client.post(f"/alerts/{alert_id}/ack", data={"next": "/alerts"})
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    assert client.post("/login", data={"token": "mlapps_not-a-token", "next": "/alerts"}).status_code == 401
    signed_in = client.post("/login", data={"token": token, "next": "https://evil.example/"})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/alerts"  # no open redirect
    done = client.post(f"/alerts/{alert_id}/ack", data={"next": "/alerts"}, follow_redirects=True)
    html = _text(done)
    assert "acknowledged by operator-ann" in html and f"Alert {alert_id} acknowledged" in html
    assert "No open alerts" in _text(client.get("/alerts?open=1"))
    assert client.post("/alerts/999/ack").status_code == 404
    assert "signed out" in _text(client.post("/logout", follow_redirects=True)).lower()


def test_what_if_form_explains_one_reading(client: FlaskClient) -> None:
    form = _text(client.get("/what-if"))
    assert 'name="torque_nm"' in form and 'value="24.7"' in form
    result = client.post("/what-if", data={**{k: str(v) for k, v in HEALTHY_READING.items()},
                                           "torque_nm": "24.7", "rotational_speed_rpm": "1400", "product_type": "L"})
    html = _text(result)
    assert result.status_code == 200
    assert "power 3,621 W, near the 3,500 W lower limit" in html
    assert "Top contributing features" in html and "Failure probability" in html


def test_what_if_form_names_each_bad_field(client: FlaskClient) -> None:
    result = client.post("/what-if", data={**{k: str(v) for k, v in HEALTHY_READING.items()},
                                           "rotational_speed_rpm": "-5", "air_temperature_k": "20"})
    html = _text(result)
    assert result.status_code == 422
    assert 'id="rotational_speed_rpm-error"' in html and 'id="air_temperature_k-error"' in html
    assert "2 fields are invalid" in html


def test_model_card_says_which_data_and_shows_the_charts(client: FlaskClient) -> None:
    html = _text(client.get("/model"))
    assert "ai4i-sim" in html and "simulated" in html and "cmapss-sim" in html
    for title in ("Precision-recall curve (out-of-fold)", "Confusion matrix at alert threshold",
                  "Predicted vs true remaining useful life (test engines)"):
        assert title in html
    assert "PR AUC" in html and "PHM08" in html


def test_pages_carry_security_headers_and_no_inline_script(client: FlaskClient, app: Flask, auth: dict) -> None:
    _seed(client, auth)
    for path in ("/", "/machines/bad-1", "/alerts", "/what-if", "/model", "/login"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        html = _text(response)
        assert all('src="' in tag for tag in re.findall(r"<script[^>]*>", html)), path
        assert " style=" not in html, path  # CSP forbids inline styles too (charts use attributes)
    assert client.get("/maintenance-static/maintenance.js").status_code == 200
    assert app.extensions["maintenance"].refresh_seconds == 5
