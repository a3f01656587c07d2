"""Server-rendered pages: application form and result, batch upload, model card, monitoring."""

from __future__ import annotations

from typing import Any

import pandas as pd
from flask import Blueprint, Response, g, render_template, request

import mlapps_flask as mf
from common.credit import charts, service
from common.credit.features import Signature
from common.csv_tools import CsvError, csv_read_rows, csv_write
from credit_flask.api import SCORING_NEEDS_TOKEN
from credit_flask.state import credit_state

web = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                static_url_path="/credit-static")

DECISION_STYLE = {"approve": "ok", "review": "warning", "decline": "critical"}


def _form_fields(signature: Signature, values: dict[str, Any], errors: dict[str, str]) -> list[dict[str, Any]]:
    """What the template needs to draw one widget per input of the served model."""
    fields = []
    for spec in signature.features:
        value = values.get(spec.name, spec.example)
        field: dict[str, Any] = {
            "name": spec.name, "label": spec.title, "help": spec.description, "required": not spec.nullable,
            "value": "" if value is None else value, "error": errors.get(spec.name), "kind": spec.kind,
        }
        if spec.kind == "category":
            field["options"] = list(spec.categories)
        else:
            field.update(minimum=spec.minimum, maximum=spec.maximum, step="1" if spec.kind == "integer" else "any")
        fields.append(field)
    return fields


@web.get("/")
def score_form() -> str:
    _loaded, scorecard = credit_state().served()
    return render_template("credit/score_form.html", fields=_form_fields(scorecard.signature, {}, {}), errors=[],
                           login_hint=_login_hint())


# Scoring from a page writes the decision log like the API does: where the API needs a token
# (production), the forms need a signed-in officer (mlapps_flask.login, with the same tokens).
def _login_hint() -> bool:
    """Whether the page should say that submitting needs a sign-in first."""
    return SCORING_NEEDS_TOKEN and mf.signed_in_user() is None


@web.post("/")
@mf.login_required(when=SCORING_NEEDS_TOKEN)
def score_submit() -> tuple[str, int] | str:
    state = credit_state()
    _loaded, scorecard = state.served()
    signature = scorecard.signature
    data, errors = service.applicant_from_form(form=request.form, signature=signature)
    applicant = None
    if not errors:
        applicant, errors = service.applicant_validate(data=data, signature=signature)
    if applicant is None:
        by_field = {e["field"]: e["message"] for e in errors}
        submitted = {spec.name: request.form.get(spec.name, "") for spec in signature.features}
        return render_template("credit/score_form.html", fields=_form_fields(signature, submitted, by_field),
                               errors=errors), 422
    result = service.applicant_score(
        scorecard=scorecard, values=service.applicant_values(applicant, signature), engine=state.engine,
        inputs=service.applicant_inputs(applicant, signature), request_id=g.request_id, channel="web",
        with_points=True,
    )
    lines = {line.name: line for line in scorecard.characteristics}
    points = [
        {"label": lines[name].label, "points": value, "max_points": round(lines[name].max_points, 1)}
        for name, value in result["points"].items()
    ]
    typed = service.applicant_inputs(applicant, signature)
    inputs = [(spec.title, _display(typed[spec.name])) for spec in signature.features]
    return render_template("credit/score_result.html", result=result, points=points, inputs=inputs,
                           policy=scorecard.policy, style=DECISION_STYLE[result["decision"]])


def _display(value: Any) -> Any:
    """Whole numbers without a trailing .0 (an income of 180, not 180.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@web.get("/batch")
def batch_form() -> str:
    _loaded, scorecard = credit_state().served()
    return render_template("credit/batch.html", signature=scorecard.signature, error=None,
                           max_rows=_max_rows(), login_hint=_login_hint())


def _max_rows() -> int:
    from common.settings import get_settings

    return get_settings().max_csv_rows


@web.post("/batch")
@mf.login_required(when=SCORING_NEEDS_TOKEN)
def batch_submit() -> Response | tuple[str, int]:
    state = credit_state()
    _loaded, scorecard = state.served()
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise CsvError("choose a CSV file to upload")
        table = csv_read_rows(data=upload.stream)
    except CsvError as exc:
        return render_template("credit/batch.html", signature=scorecard.signature, error=str(exc),
                               max_rows=_max_rows()), 422
    frame = pd.DataFrame(table.rows, columns=table.columns, dtype=object)
    batch, _records = service.applicants_score(scorecard=scorecard, frame=frame, engine=state.engine,
                                               request_id=g.request_id, channel="web-batch")
    columns, rows = service.batch_csv_rows(frame=frame, batch=batch)
    name = (upload.filename or "applicants.csv").rsplit("/", 1)[-1].removesuffix(".csv")
    response = mf.csv_response(columns=columns, rows=rows, filename=f"{name}-scored.csv")
    response.headers["X-Rows-Scored"] = str(len(frame) - len(batch.row_errors))
    response.headers["X-Rows-Failed"] = str(len(batch.row_errors))
    return response


@web.get("/batch/sample.csv")
def batch_sample() -> Response:
    _loaded, scorecard = credit_state().served()
    rows = service.sample_applicants(signature=scorecard.signature)
    response = Response(csv_write(columns=scorecard.signature.names, rows=rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="sample-applicants.csv"'
    return response


@web.get("/model")
def model_page() -> str:
    loaded, scorecard = credit_state().served()
    card = service.model_card(loaded=loaded, scorecard=scorecard)
    data = service.evaluation_charts_data(loaded=loaded, scorecard=scorecard)
    svgs = {}
    if data:
        svgs["roc"] = charts.roc_svg(data["roc"])
        svgs["scores"] = charts.histogram_svg(
            edges=data["scores"]["edges"], series=[("Good", data["scores"]["good"]), ("Bad", data["scores"]["bad"])],
            title="Score distribution of good and bad applicants (held-out)", x_label="Score")
        svgs["calibration"] = charts.calibration_svg(data["calibration"])
    return render_template("credit/model.html", card=card, svgs=svgs, calibration=data.get("calibration", []))


@web.get("/monitoring")
def monitoring_page() -> str:
    state = credit_state()
    loaded, scorecard = state.served()
    window = request.args.get("window", type=int) or 1000
    window = min(max(window, 30), 50_000)
    report = service.monitoring_psi(scorecard=scorecard, loaded=loaded, engine=state.engine, window=window)
    svg = None
    if report.get("score"):
        bins = report["score"]["bins"]
        svg = charts.bars_svg(labels=[b["bin"] for b in bins],
                              series=[("Training sample", [b["expected"] for b in bins]),
                                      ("Recent decisions", [b["actual"] for b in bins])],
                              title="Score distribution: training sample vs recent decisions")
    return render_template("credit/monitoring.html", report=report, svg=svg)
