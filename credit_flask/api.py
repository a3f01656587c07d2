"""REST API `/api/v1`: score one applicant or a batch, model card, decision log, population stability.

The request schema of the scoring operations is the served model's signature,
so `/openapi.json` and the validation follow whichever model is promoted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import pandas as pd
import pydantic
from flask import current_app, g, request
from pydantic import BaseModel, Field

import mlapps_flask as mf
from common.credit import decisions as decision_log
from common.credit import service
from common.credit.service import BatchOut, ModelRef, ReasonOut, ScoreOut
from common.registry import ModelUnavailableError
from common.settings import get_settings
from credit_flask.state import credit_state

api = mf.ApiBlueprint("credit_api", __name__, url_prefix="/api/v1")


# --------------------------------------------------------------------------- schemas that follow the served model
def _applicant_json_schema() -> dict[str, Any]:
    state = credit_state()
    try:
        loaded, scorecard = state.served()
    except mf.ProblemError:
        return {"type": "object", "description": "No model is served yet: train one with `mlapps train credit`."}
    state.openapi_model_ref = loaded.ref
    schema = service.applicant_schema(scorecard.signature).model_json_schema()
    schema["description"] = f"One applicant, as the served model {loaded.ref} expects"
    return schema


class _ServedModelBody(Mapping[str, Any]):
    """An OpenAPI requestBody computed from the served model each time the document is built."""

    def __init__(self, *, batch: bool) -> None:
        self.batch = batch

    def _document(self) -> dict[str, Any]:
        applicant = _applicant_json_schema()
        if not self.batch:
            return {"required": True, "content": {"application/json": {"schema": applicant}}}
        limit = get_settings().max_csv_rows
        upload = mf.csv_upload_body(description="CSV with a header row naming the model's inputs; other columns "
                                                "are passed through to the answer")
        return {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": applicant, "maxItems": limit}},
                **upload["content"],
            },
        }

    def __getitem__(self, key: str) -> Any:
        return self._document()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._document())

    def __len__(self) -> int:
        return len(self._document())


@api.before_app_request
def _refresh_openapi_when_model_changes() -> None:
    """A promoted model with another signature changes the documented request schema."""
    if request.path != "/openapi.json":
        return
    state = credit_state()
    try:
        ref = state.current.get().ref
    except ModelUnavailableError:
        ref = None
    if ref != state.openapi_model_ref:
        current_app.extensions["mlapps"].openapi_cache = None


def _inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its local `$defs` references replaced by the definitions (no recursion in ours)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return resolve(dict(definitions[reference.rsplit("/", 1)[-1]]))
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


# --------------------------------------------------------------------------- scoring
# Scoring writes to the decision log, so in production it needs an API token like every write;
# development and test servers keep it open for the demo and for trying the API by hand.
SCORING_NEEDS_TOKEN = get_settings().mode == "production"


@api.operation(
    "POST", "/score", summary="Score one applicant", tags=["scoring"], request_body=_ServedModelBody(batch=False),
    responses={200: ScoreOut}, problems=(415,), auth=SCORING_NEEDS_TOKEN,
    description="Probability of default, scorecard points, grade A-E, decision and up to 4 reason codes. "
    "The decision is stored in the decision log.",
)
def score_create() -> ScoreOut:
    state = credit_state()
    _loaded, scorecard = state.served()
    schema = service.applicant_schema(scorecard.signature)
    applicant = mf.validate_or_422(schema, mf.json_body())
    result = service.applicant_score(
        scorecard=scorecard, values=service.applicant_values(applicant, scorecard.signature), engine=state.engine,
        inputs=service.applicant_inputs(applicant, scorecard.signature), request_id=g.request_id, channel="api",
    )
    return ScoreOut.model_validate(result)


@api.operation(
    "POST", "/score/batch", summary="Score many applicants (JSON array or CSV file)", tags=["scoring"],
    request_body=_ServedModelBody(batch=True),
    responses={200: {"description": "JSON: one entry per row, with its result or its errors. CSV: the uploaded "
                                    "file with result columns and an `errors` column appended.",
                     "content": {"application/json": {"schema": _inline_definitions(BatchOut.model_json_schema())}},
                     }},
    problems=(415,), auth=SCORING_NEEDS_TOKEN,
    description="Rows with errors are reported per row while the good rows are scored and logged.",
)
def score_batch() -> Any:
    state = credit_state()
    _loaded, scorecard = state.served()
    if request.mimetype == "application/json":
        payload = mf.json_body()
        if not isinstance(payload, list) or not all(isinstance(item, dict) for item in payload):
            raise mf.ProblemError(422, "send a JSON array of applicant objects", title="Validation failed",
                                  errors=[{"field": "(body)", "message": "Input should be an array of objects"}])
        limit = get_settings().max_csv_rows
        if len(payload) > limit:
            raise mf.ProblemError(413, f"{len(payload)} applicants in one request; the limit is {limit}",
                                  title="Content Too Large")
        frame = service.applicants_frame(records=payload)
        batch, records = service.applicants_score(scorecard=scorecard, frame=frame, engine=state.engine,
                                                  request_id=g.request_id, channel="api-batch")
        rows = [
            {"row": i, "result": record} if record is not None
            else {"row": i, "errors": batch.row_errors.get(i, [])}
            for i, record in enumerate(records)
        ]
        failed = len(batch.row_errors)
        return current_app.json.response({"scored": len(rows) - failed, "failed": failed, "results": rows})
    table = mf.csv_upload_read()
    frame = pd.DataFrame(table.rows, columns=table.columns, dtype=object)
    batch, _records = service.applicants_score(scorecard=scorecard, frame=frame, engine=state.engine,
                                               request_id=g.request_id, channel="api-batch")
    columns, rows = service.batch_csv_rows(frame=frame, batch=batch)
    response = mf.csv_response(columns=columns, rows=rows, filename="scored.csv")
    response.headers["X-Rows-Scored"] = str(len(frame) - len(batch.row_errors))
    response.headers["X-Rows-Failed"] = str(len(batch.row_errors))
    return response


# --------------------------------------------------------------------------- model card
class ModelCardOut(BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")

    name: str
    version: str
    created: str | None = None
    algorithm: str | None = None
    metrics: dict[str, float] = Field(description="Mean (and std) over the cross-validation folds")
    evaluation: dict[str, Any] | None = None
    challenger: dict[str, Any] | None = None
    training_data: dict[str, Any] | None = None
    signature: dict[str, Any]
    grades: list[dict[str, Any]] | None = None
    policy: dict[str, float]


@api.operation("GET", "/model", summary="Model card of the served model", tags=["model"],
               responses={200: ModelCardOut})
def model_show() -> ModelCardOut:
    loaded, scorecard = credit_state().served()
    return ModelCardOut.model_validate(service.model_card(loaded=loaded, scorecard=scorecard))


# --------------------------------------------------------------------------- decision log
class DecisionOut(BaseModel):
    id: int
    created_at: dt.datetime
    request_id: str
    channel: str
    batch_row: int | None = None
    model: ModelRef
    inputs: dict[str, Any]
    probability_of_default: float
    score: int
    grade: str
    decision: str
    reasons: list[ReasonOut]


class DecisionQuery(mf.PageQuery):
    decision: Literal["approve", "review", "decline"] | None = Field(default=None, description="only this decision")
    model_version: str | None = Field(default=None, max_length=32, description="only this model version")


@api.operation("GET", "/decisions", summary="Decision log, newest first", tags=["decisions"], query=DecisionQuery,
               responses={200: mf.Page[DecisionOut]}, auth=True)
def decisions_index(*, query: DecisionQuery) -> dict[str, Any]:
    items, total = decision_log.decisions_list(
        engine=credit_state().engine, offset=query.offset, limit=query.limit, decision=query.decision,
        model_version=query.model_version,
    )
    return mf.page_envelope(items=[DecisionOut.model_validate(i) for i in items], query=query, total=total)


@api.operation("GET", "/decisions/<int:decision_id>", summary="One logged decision", tags=["decisions"],
               responses={200: DecisionOut}, auth=True, problems=(404,))
def decision_show(decision_id: int) -> DecisionOut:
    found = decision_log.decision_get(engine=credit_state().engine, decision_id=decision_id)
    if found is None:
        raise mf.ProblemError(404, f"no decision {decision_id}")
    return DecisionOut.model_validate(found)


# --------------------------------------------------------------------------- monitoring
class PsiQuery(BaseModel):
    window: int = Field(default=1000, ge=30, le=50_000, description="how many of the latest decisions to compare")


class PsiBinOut(BaseModel):
    bin: str
    expected: float = Field(description="share in the training sample")
    actual: float = Field(description="share among recent decisions")


class PsiScoreOut(BaseModel):
    psi: float
    verdict: Literal["stable", "moderate shift", "significant shift"]
    bins: list[PsiBinOut]


class PsiCharacteristicOut(PsiScoreOut):
    name: str
    label: str


class PsiOut(BaseModel):
    status: str = Field(description="ok, or insufficient data when too few decisions are logged")
    detail: str | None = None
    window: int
    reference_rows: int
    recent_rows: int
    thresholds: dict[str, float] | None = None
    model: ModelRef | None = None
    score: PsiScoreOut | None = None
    characteristics: list[PsiCharacteristicOut]


@api.operation("GET", "/monitoring/psi", summary="Population stability of the score and each characteristic",
               tags=["monitoring"], query=PsiQuery, responses={200: PsiOut},
               description="PSI between the training sample and the latest decisions: below 0.1 stable, "
               "0.1-0.25 moderate shift, above 0.25 significant shift.")
def monitoring_psi(*, query: PsiQuery) -> PsiOut:
    state = credit_state()
    loaded, scorecard = state.served()
    report = service.monitoring_psi(scorecard=scorecard, loaded=loaded, engine=state.engine, window=query.window)
    return PsiOut.model_validate(report)
