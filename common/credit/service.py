"""What the credit apps call: one function per operation, on top of the served model.

Everything is derived from the served model's metadata (signature, grades,
policy defaults, reference distributions), so a model trained on another
dataset is served with no code change.  No web framework is imported here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Optional

import numpy as np
import pandas as pd
import pydantic
import sqlalchemy as sa
from pydantic import ConfigDict, Field, Strict

from common import evaluation
from common.credit import decisions as decision_log
from common.credit.features import Signature
from common.credit.monitoring import psi_report
from common.credit.scorecard import BatchResult, CompiledScorecard, Grade, ScorePolicy, scorecard_compile
from common.registry import LoadedModel

MONITORING_WINDOW = 1000


# --------------------------------------------------------------------------- compiled model
def policy_resolve(*, metadata: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> ScorePolicy:
    """The model's default policy with the deployment's overrides (None values are ignored)."""
    values = dict(metadata.get("policy_defaults") or {})
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name for f in dataclasses.fields(ScorePolicy)}
    return ScorePolicy(**{k: (int(v) if k == "max_reasons" else float(v)) for k, v in values.items() if k in known})


class ScorecardCache:
    """The compiled scorecard of the loaded model, rebuilt only when another version is loaded."""

    def __init__(self, *, policy_overrides: Mapping[str, Any] | None = None) -> None:
        self.policy_overrides = dict(policy_overrides or {})
        self._lock = threading.Lock()
        self._key: tuple[int, str] | None = None
        self._compiled: CompiledScorecard | None = None

    def get(self, loaded: LoadedModel) -> CompiledScorecard:
        key = (id(loaded), loaded.ref)
        compiled = self._compiled
        if compiled is not None and self._key == key:
            return compiled
        with self._lock:
            if self._compiled is None or self._key != key:
                self._compiled = scorecard_from_model(loaded=loaded, policy_overrides=self.policy_overrides)
                self._key = key
            return self._compiled


def scorecard_from_model(*, loaded: LoadedModel, policy_overrides: Mapping[str, Any] | None = None) -> CompiledScorecard:
    metadata = loaded.metadata
    grades = [Grade(grade=g["grade"], pd_from=g["pd_from"], pd_to=g["pd_to"]) for g in metadata["grades"]]
    return scorecard_compile(
        model=loaded.artifact, signature=Signature.from_dict(metadata["signature"]),
        policy=policy_resolve(metadata=metadata, overrides=policy_overrides), grades=grades,
        model_name=loaded.name, model_version=loaded.version,
    )


# --------------------------------------------------------------------------- schemas
@functools.lru_cache(maxsize=16)
def _applicant_schema_cached(signature_json: str) -> type[pydantic.BaseModel]:
    signature = Signature.from_dict(json.loads(signature_json))
    fields: dict[str, Any] = {}
    for index, spec in enumerate(signature.features):
        constraint = Field(ge=spec.minimum, le=spec.maximum) if spec.is_numeric else None
        if spec.kind == "category":
            value_type: Any = Literal[tuple(spec.categories)]  # type: ignore[valid-type]
        elif spec.kind == "integer":
            value_type = Annotated[int, Strict(), constraint]
        else:
            value_type = Annotated[float, Strict(), constraint]
        description = spec.description or spec.title
        if spec.nullable:
            description += " (optional: leave out or null when unknown)"
        examples = [spec.example] if spec.example is not None else None
        if spec.nullable:
            fields[f"f{index}"] = (Optional[value_type], Field(default=None, alias=spec.name, title=spec.title,  # noqa: UP045
                                                                description=description, examples=examples))
        else:
            fields[f"f{index}"] = (value_type, Field(alias=spec.name, title=spec.title, description=description,
                                                     examples=examples))
    return pydantic.create_model(  # type: ignore[call-overload, no-any-return]
        "Applicant", __config__=ConfigDict(extra="forbid", title="Applicant"), **fields
    )


# Signature object -> (signature, schema): the scoring endpoint asks once per request, and turning the
# signature into JSON to find its cached schema costs more than validating the applicant.
_schemas_by_signature: dict[int, tuple[Signature, type[pydantic.BaseModel]]] = {}


def applicant_schema(signature: Signature) -> type[pydantic.BaseModel]:
    """The pydantic model of one application under `signature` (cached per signature)."""
    known = _schemas_by_signature.get(id(signature))
    if known is not None and known[0] is signature:
        return known[1]
    schema = _applicant_schema_cached(json.dumps(signature.to_dict(), sort_keys=True))
    if len(_schemas_by_signature) >= 16:  # a long-lived process that loaded many model versions
        _schemas_by_signature.clear()
    _schemas_by_signature[id(signature)] = (signature, schema)  # keeps `signature` alive: its id stays unique
    return schema


def applicant_values(applicant: pydantic.BaseModel, signature: Signature) -> list[Any]:
    """A validated applicant as values in signature order (what the compiled path scores)."""
    # The schema's fields are f0..fN in signature order, and a validated model holds exactly those.
    values = list(applicant.__dict__.values())
    if len(values) != len(signature.features):
        raise ValueError(f"an applicant of another signature: {len(values)} values, "
                         f"{len(signature.features)} inputs")
    return values


def applicant_inputs(applicant: pydantic.BaseModel, signature: Signature) -> dict[str, Any]:
    """A validated applicant by input name (what the decision log keeps)."""
    return dict(zip(signature.names, applicant_values(applicant, signature), strict=True))


class ReasonOut(pydantic.BaseModel):
    code: str = Field(description="Stable code of the characteristic (e.g. INCOME)")
    characteristic: str
    text: str = Field(description="Plain-language explanation")
    points_lost: float = Field(description="Points below the best attribute of this characteristic")


class ModelRef(pydantic.BaseModel):
    name: str
    version: str


class ScoreOut(pydantic.BaseModel):
    """The result of scoring one applicant."""

    decision_id: int | None = Field(default=None, description="Id in the decision log")
    request_id: str | None = None
    probability_of_default: float = Field(ge=0, le=1)
    score: int = Field(description="Scorecard points (higher = safer)")
    grade: Literal["A", "B", "C", "D", "E"]
    decision: Literal["approve", "review", "decline"]
    reasons: list[ReasonOut] = Field(description="Up to 4 factors that cost the applicant most points")
    model: ModelRef


class RowErrorOut(pydantic.BaseModel):
    field: str
    message: str


class BatchRowOut(pydantic.BaseModel):
    row: int = Field(description="0-based position in the request")
    result: ScoreOut | None = None
    errors: list[RowErrorOut] | None = None


class BatchOut(pydantic.BaseModel):
    scored: int
    failed: int
    results: list[BatchRowOut]


# --------------------------------------------------------------------------- scoring
def applicant_score(*, scorecard: CompiledScorecard, values: Sequence[Any], engine: sa.Engine | None,
                    inputs: Mapping[str, Any], request_id: str, channel: str, with_points: bool = False) -> dict[str, Any]:
    """Score validated values with the compiled path and log the decision (when an engine is given)."""
    result = scorecard.score_values(values, with_points=with_points)
    if engine is not None:
        stored = {k: v for k, v in result.items() if k != "points"}
        result["decision_id"] = decision_log.decision_record(
            engine=engine, inputs=inputs, result=stored, request_id=request_id, channel=channel
        )
    result["request_id"] = request_id
    return result


def applicants_frame(*, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A JSON array of applicant objects as a table (object columns keep each value as sent)."""
    frame = pd.DataFrame.from_records(list(records)) if records else pd.DataFrame()
    return frame.astype(object) if len(frame.columns) else frame


def applicants_score(*, scorecard: CompiledScorecard, frame: pd.DataFrame, engine: sa.Engine | None,
                     request_id: str, channel: str) -> tuple[BatchResult, list[dict[str, Any] | None]]:
    """Score a table (vectorised), log the valid rows, return the batch and one result per row (None = invalid)."""
    batch = scorecard.score_frame(frame)
    records = batch.records()
    if engine is not None:
        applicants = batch.applicants()
        decision_log.decisions_record_batch(
            engine=engine, inputs=[a or {} for a in applicants], results=records, request_id=request_id, channel=channel
        )
    return batch, records


def batch_csv_rows(*, frame: pd.DataFrame, batch: BatchResult) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the CSV answer: the uploaded columns, the results, and an `errors` column."""
    result_columns = batch.columns()
    names = list(frame.columns) + [c for c in result_columns if c not in frame.columns] + ["errors"]
    uploaded = [frame[c].tolist() for c in frame.columns]
    scores = result_columns["score"]
    result_columns["score"] = np.array([None if v != v else int(v) for v in scores.tolist()], dtype=object)
    results = [result_columns[c].tolist() for c in result_columns if c not in frame.columns]
    errors = ["; ".join(f"{e['field']}: {e['message']}" for e in batch.row_errors.get(i, ())) for i in range(len(frame))]
    rows = [list(row) for row in zip(*uploaded, *results, errors, strict=True)]
    for row in rows:
        for index, value in enumerate(row):
            if isinstance(value, float) and math.isnan(value):
                row[index] = None
    return names, rows


# --------------------------------------------------------------------------- model card and monitoring
def model_card(*, loaded: LoadedModel, scorecard: CompiledScorecard) -> dict[str, Any]:
    """What a reviewer needs to know about the served model (the API's `GET /model`)."""
    metadata = loaded.metadata
    return {
        "name": loaded.name,
        "version": loaded.version,
        "created": metadata.get("created"),
        "algorithm": metadata.get("algorithm"),
        "params": metadata.get("params"),
        "metrics": metadata.get("metrics"),
        "evaluation": metadata.get("evaluation"),
        "challenger": metadata.get("challenger"),
        "served_model_choice": metadata.get("served_model_choice"),
        "training_data": metadata.get("training_data"),
        "signature": metadata.get("signature"),
        "features": [
            {"name": line.name, "label": line.label, "active": line.active}
            for line in scorecard.characteristics
        ],
        "dropped_characteristics": metadata.get("dropped_characteristics", []),
        "grades": metadata.get("grades"),
        "policy": scorecard.policy.to_dict(),
        "scorecard": metadata.get("scorecard"),
        "library_versions": metadata.get("library_versions"),
    }


def evaluation_charts_data(*, loaded: LoadedModel, scorecard: CompiledScorecard) -> dict[str, Any]:
    """Held-out predictions turned into chart series: ROC curves, score histograms, calibration."""
    arrays = loaded.arrays
    if "evaluation_pd" not in arrays or "evaluation_target" not in arrays:
        return {}
    probability = np.asarray(arrays["evaluation_pd"], dtype=float)
    target = np.asarray(arrays["evaluation_target"], dtype=float)
    keep = ~np.isnan(probability)
    probability, target = probability[keep], target[keep]
    from sklearn.metrics import roc_curve

    curves = []
    series = [("Scorecard (champion)", probability)]
    if "challenger_evaluation_pd" in arrays:
        challenger = np.asarray(arrays["challenger_evaluation_pd"], dtype=float)[keep]
        if not np.isnan(challenger).any():
            series.append(("Gradient boosting (challenger)", challenger))
    for label, values in series:
        fpr, tpr, _ = roc_curve(target, values)
        step = max(1, fpr.size // 200)
        curves.append({"label": label, "auc": evaluation.roc_auc(y_true=target, y_score=values),
                       "fpr": fpr[::step].tolist() + [1.0], "tpr": tpr[::step].tolist() + [1.0]})
    policy = scorecard.policy
    clipped = np.clip(probability, 1e-9, 1 - 1e-9)
    scores = policy.offset + policy.factor * np.log((1 - clipped) / clipped)
    edges = np.linspace(np.floor(np.percentile(scores, 0.5) / 10) * 10, np.ceil(np.percentile(scores, 99.5) / 10) * 10, 26)
    good, _ = np.histogram(np.clip(scores[target == 0], edges[0], edges[-1]), bins=edges)
    bad, _ = np.histogram(np.clip(scores[target == 1], edges[0], edges[-1]), bins=edges)
    return {
        "roc": curves,
        "scores": {"edges": edges.tolist(), "good": (good / max(good.sum(), 1)).tolist(),
                   "bad": (bad / max(bad.sum(), 1)).tolist()},
        "calibration": evaluation.calibration_table(y_true=target, y_prob=probability, bins=10),
    }


def monitoring_psi(*, scorecard: CompiledScorecard, loaded: LoadedModel, engine: sa.Engine,
                   window: int = MONITORING_WINDOW) -> dict[str, Any]:
    """PSI of the score and every characteristic: training sample vs the `window` latest decisions."""
    reference = loaded.metadata.get("monitoring")
    if not reference or "log_odds_edges" not in (reference.get("score") or {}):
        return {"status": "unavailable", "detail": "this model version has no reference distributions",
                "score": None, "characteristics": [], "recent_rows": 0, "reference_rows": 0, "window": window}
    recent = decision_log.decisions_recent_inputs(engine=engine, limit=window)
    batch = scorecard.score_frame(applicants_frame(records=recent)) if recent else None
    report = psi_report(scorecard=scorecard, reference=reference, batch=batch)
    report["window"] = window
    report["model"] = {"name": loaded.name, "version": loaded.version}
    return report


# --------------------------------------------------------------------------- HTML form
def applicant_from_form(*, form: Mapping[str, str], signature: Signature) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Form text -> typed values for the applicant schema; blank means "not provided".

    Text that is not a number is reported here; everything else (ranges,
    categories, required fields) is left to the schema, exactly as for the API.
    """
    data: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for spec in signature.features:
        text = (form.get(spec.name) or "").strip()
        if not text:
            data[spec.name] = None
            continue
        if spec.kind == "category":
            data[spec.name] = text
            continue
        try:
            number = float(text.replace(",", "")) if spec.kind == "number" else _integer(text)
        except ValueError:
            errors.append({"field": spec.name, "message": "Input should be a valid integer" if spec.kind == "integer"
                           else "Input should be a valid number"})
            continue
        if not math.isfinite(number):
            errors.append({"field": spec.name, "message": "Input should be a finite number"})
            continue
        data[spec.name] = number
    return data, errors


def _integer(text: str) -> int:
    number = float(text.replace(",", ""))
    if not number.is_integer():
        raise ValueError(text)
    return int(number)


def applicant_validate(*, data: Mapping[str, Any], signature: Signature) -> tuple[pydantic.BaseModel | None, list[dict[str, str]]]:
    """Validate with the same schema as the API; returns (applicant, []) or (None, field errors)."""
    from common.problems import field_errors_from_pydantic

    schema = applicant_schema(signature)
    present = {k: v for k, v in data.items() if v is not None}
    try:
        return schema.model_validate(present), []
    except pydantic.ValidationError as exc:
        return None, field_errors_from_pydantic(exc.errors(include_url=False))


def sample_applicants(*, signature: Signature) -> list[dict[str, Any]]:
    """A few example applications built from the signature (for the sample CSV and the docs)."""
    base = {spec.name: spec.example for spec in signature.features}
    rows = [dict(base)]
    second = dict(base)
    for spec in signature.features:
        if spec.kind == "category" and len(spec.categories) > 1:
            second[spec.name] = spec.categories[-1] if spec.categories[-1] != base[spec.name] else spec.categories[0]
        elif spec.is_numeric and isinstance(spec.example, (int, float)):
            second[spec.name] = type(spec.example)(spec.example * 2) if spec.maximum is None or \
                spec.example * 2 <= spec.maximum else spec.example
    rows.append(second)
    third = dict(base)
    for spec in signature.features:
        if spec.nullable:
            third[spec.name] = None
    rows.append(third)
    return rows
