"""Server-rendered pages: fleet dashboard, machine page, alerts, what-if form, model card, sign-in.

Acknowledging an alert from a page needs an operator signed in with an API
token (mlapps_flask.login: the same tokens as the API, `mlapps tokens create
maintenance NAME`); the name is kept in the signed session cookie.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from pydantic import ValidationError
from werkzeug.wrappers import Response

import mlapps_flask as mf
from common.maintenance import charts, model_card, prediction, store
from common.maintenance.features import READING_COLUMNS
from common.maintenance.schemas import ReadingIn
from common.problems import field_errors_from_pydantic
from maintenance_flask.state import maintenance_state

web = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                static_url_path="/maintenance-static")

EXAMPLE_READING = {"product_type": "L", "air_temperature_k": 300.0, "process_temperature_k": 308.7,
                   "rotational_speed_rpm": 1400, "torque_nm": 24.7, "tool_wear_min": 100}
FIELD_LABELS = {
    "product_type": ("Product type", "L, M or H quality variant"),
    "air_temperature_k": ("Air temperature (K)", "250-350 K; about 300 K"),
    "process_temperature_k": ("Process temperature (K)", "usually air temperature + 10 K"),
    "rotational_speed_rpm": ("Rotational speed (rpm)", "positive; about 1,500 rpm"),
    "torque_nm": ("Torque (Nm)", "0 or more; about 40 Nm"),
    "tool_wear_min": ("Tool wear (min)", "minutes the tool has been used"),
}
ALERTS_PAGE_SIZE = 50


# --------------------------------------------------------------------------- fleet
def _fleet_context() -> dict[str, Any]:
    state = maintenance_state()
    policy = state.policy_optional()
    return {"machines": store.machine_list(engine=state.engine), "summary": store.fleet_summary(engine=state.engine),
            "policy": policy, "refresh_seconds": state.refresh_seconds}


@web.get("/")
def dashboard() -> str:
    return render_template("maintenance/dashboard.html", **_fleet_context())


@web.get("/partials/fleet")
def fleet_partial() -> str:
    return render_template("maintenance/_fleet.html", **_fleet_context())


def _machine_context(machine_id: str) -> dict[str, Any]:
    state = maintenance_state()
    try:
        machine = store.machine_get(engine=state.engine, machine_id=machine_id, history=state.history_readings)
    except store.MachineNotFoundError:
        raise mf.ProblemError(404, f"no machine {machine_id!r}") from None
    alerts, _total = store.alert_list(engine=state.engine, machine_id=machine_id, open_only=True, limit=20)
    policy = state.policy_optional()
    history = machine["history"]
    times = [r["timestamp"] for r in history]

    def column(name: str) -> list[float | None]:
        return [r[name] for r in history]

    risk_lines = [(policy.failure_threshold, f"alert threshold {policy.failure_threshold:.2f}", charts.RED)] if policy else []
    rul_lines = [(float(state.rul_horizon_cycles), f"horizon {state.rul_horizon_cycles} cycles", charts.RED)]
    svgs = {
        "risk": charts.time_series_svg(title="Failure probability over time", times=times, y_label="P(failure)",
                                       series=[("P(failure)", column("failure_probability"), charts.BLUE)],
                                       thresholds=risk_lines, y_range=(0.0, 1.0)),
        "rul": charts.time_series_svg(title="Remaining useful life over time", times=times, y_label="RUL (cycles)",
                                      series=[("RUL", column("rul_cycles"), charts.GREEN)], thresholds=rul_lines,
                                      y_range=(0.0, 130.0)),
        "temperatures": charts.time_series_svg(
            title="Temperatures", times=times, y_label="kelvin",
            series=[("air", column("air_temperature_k"), charts.BLUE),
                    ("process", column("process_temperature_k"), charts.RED)]),
        "speed": charts.time_series_svg(title="Rotational speed", times=times, y_label="rpm",
                                        series=[("speed", column("rotational_speed_rpm"), charts.BLUE)],
                                        thresholds=[(1380.0, "1,380 rpm (heat dissipation)", charts.AMBER)]),
        "torque": charts.time_series_svg(title="Torque", times=times, y_label="Nm",
                                         series=[("torque", column("torque_nm"), charts.BLUE)]),
        "wear": charts.time_series_svg(title="Tool wear", times=times, y_label="minutes",
                                       series=[("tool wear", column("tool_wear_min"), charts.BLUE)],
                                       thresholds=[(200.0, "replacement window", charts.AMBER)]),
    }
    latest = history[-1] if history else None
    what_if = {c: latest[c] for c in READING_COLUMNS} if latest else None
    return {"machine": machine, "alerts": alerts, "svgs": svgs, "latest": latest, "what_if": what_if,
            "recent": list(reversed(history[-15:])), "policy": policy, "refresh_seconds": state.refresh_seconds}


@web.get("/machines/<machine_id>")
def machine_page(machine_id: str) -> str:
    return render_template("maintenance/machine.html", **_machine_context(machine_id))


@web.get("/partials/machines/<machine_id>")
def machine_partial(machine_id: str) -> str:
    return render_template("maintenance/_machine.html", **_machine_context(machine_id))


# --------------------------------------------------------------------------- alerts
@web.get("/alerts")
def alerts_page() -> str:
    open_only = request.args.get("open", "") in ("1", "true", "yes")
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    items, total = store.alert_list(engine=maintenance_state().engine, open_only=open_only,
                                    offset=(page - 1) * ALERTS_PAGE_SIZE, limit=ALERTS_PAGE_SIZE)
    pages = max(1, -(-total // ALERTS_PAGE_SIZE))
    return render_template("maintenance/alerts.html", alerts=items, total=total, page=page, pages=pages,
                           open_only=open_only)


@web.post("/alerts/<int:alert_id>/ack")
@mf.login_required
def alert_ack(alert_id: int) -> Response:
    back = mf.same_site_path(request.form.get("next")) or url_for("web.alerts_page")
    operator = mf.signed_in_user()
    try:
        store.alert_acknowledge(engine=maintenance_state().engine, alert_id=alert_id, by=operator)
    except store.AlertNotFoundError:
        raise mf.ProblemError(404, f"no alert {alert_id}") from None
    flash(f"Alert {alert_id} acknowledged by {operator}.", "ok")
    return redirect(back)


# --------------------------------------------------------------------------- what-if
def _form_fields(values: dict[str, Any], errors: dict[str, str]) -> list[dict[str, Any]]:
    fields = []
    for name in READING_COLUMNS:
        label, help_text = FIELD_LABELS[name]
        fields.append({"name": name, "label": label, "help": help_text, "value": values.get(name, ""),
                       "error": errors.get(name)})
    return fields


@web.get("/what-if")
def what_if_form() -> str:
    values = {c: request.args.get(c, EXAMPLE_READING[c]) for c in READING_COLUMNS}
    return render_template("maintenance/what_if.html", fields=_form_fields(values, {}), result=None, errors=[])


@web.post("/what-if")
def what_if_submit() -> str | tuple[str, int]:
    values = {c: request.form.get(c, "").strip() for c in READING_COLUMNS}
    try:
        reading = ReadingIn.model_validate({k: v for k, v in values.items() if v != ""})
    except ValidationError as exc:
        errors = field_errors_from_pydantic(exc.errors(include_url=False))
        by_field = {e["field"]: e["message"] for e in errors}
        return render_template("maintenance/what_if.html", fields=_form_fields(values, by_field), result=None,
                               errors=errors), 422
    result = prediction.failure_predict(loaded=maintenance_state().failure_loaded(), readings=[reading])[0]
    return render_template("maintenance/what_if.html", fields=_form_fields(values, {}), result=result, errors=[])


# --------------------------------------------------------------------------- model card
@web.get("/model")
def model_page() -> str:
    state = maintenance_state()
    failure, rul = state.failure_optional(), state.rul_optional()
    key = f"{failure.ref if failure else '-'}|{rul.ref if rul else '-'}"
    svgs = state.chart_cached(key, lambda: model_card.model_card_charts(failure=failure, rul=rul))
    return render_template("maintenance/model.html", failure=model_card.model_card_facts(loaded=failure),
                           rul=model_card.model_card_facts(loaded=rul), svgs=svgs, horizon=state.rul_horizon_cycles)
