"""A tiny Flask app built with mlapps_flask, the way credit_flask and maintenance_flask use it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from flask import Flask, flash, redirect, render_template_string, request, url_for
from pydantic import BaseModel, Field
from sklearn.linear_model import LogisticRegression

import mlapps_flask as mf
from common.auth import TokenStore
from common.registry import CurrentModel, ModelRegistry, registry_from_settings

MODEL_NAME = "toy"


class ApplicantIn(BaseModel):
    income: float = Field(gt=0)
    age: int = Field(ge=18, le=120)


class ScoreOut(BaseModel):
    probability: float
    model: str


class ItemOut(BaseModel):
    id: int
    name: str


class ItemQuery(mf.PageQuery):
    tag: list[str] = Field(default_factory=list, description="repeat to filter by several tags")


FORM_PAGE = """{% extends "mlapps_flask/base.html" %}
{% block content %}<h1>Notes</h1>
<form method="post" action="/notes">{{ csrf_input() }}<input name="text"><button type="submit">Save</button></form>
{% endblock %}"""


def toy_model_save(registry: ModelRegistry) -> None:
    x = np.array([[1.0, 20.0], [2.0, 30.0], [3.0, 40.0], [4.0, 50.0]])
    y = np.array([1, 1, 0, 0])
    registry.save(
        name=MODEL_NAME,
        artifact=LogisticRegression().fit(x, y),
        metadata={"algorithm": "logistic_regression", "params": {}, "metrics": {}},
    )


def app_create(*, engine: sa.Engine, current: CurrentModel) -> Flask:
    app = Flask(__name__)
    app.config["TESTING"] = True
    mf.init_app(
        app, title="Toy scoring", version="9.9", description="Test app",
        nav=[("Notes", "notes"), ("API docs", "/docs")],
    )
    mf.init_db(app, engine)
    mf.readiness_add(app, f"model:{MODEL_NAME}", mf.model_readiness(current))

    api = mf.ApiBlueprint("api", __name__, url_prefix="/api/v1")

    @api.operation("POST", "/scores", summary="Score one applicant", tags=["scoring"],
                   body=ApplicantIn, responses={200: ScoreOut}, auth=True)
    def score_create(*, body: ApplicantIn) -> ScoreOut:
        loaded = mf.model_get(current)
        probability = float(loaded.artifact.predict_proba([[body.income, body.age]])[0, 1])
        return ScoreOut(probability=probability, model=loaded.ref)

    @api.operation("POST", "/scores/batch", summary="Score applicants", tags=["scoring"],
                   body=list[ApplicantIn], responses={201: list[ScoreOut]})
    def score_batch(*, body: list[ApplicantIn]) -> tuple[list[ScoreOut], int]:
        return [ScoreOut(probability=0.5, model="none") for _ in body], 201

    @api.operation("GET", "/items", summary="List items", tags=["items"], query=ItemQuery,
                   responses={200: mf.Page[ItemOut]})
    def item_list(*, query: ItemQuery) -> dict:
        items = [ItemOut(id=i, name=f"item {i}") for i in range(1, 46)]
        if query.tag:
            items = [item for item in items if any(tag in item.name for tag in query.tag)]
        page = items[query.offset : query.offset + query.limit]
        return mf.page_envelope(items=page, query=query, total=len(items))

    @api.operation("GET", "/items/<int:item_id>", summary="One item", tags=["items"],
                   responses={200: ItemOut}, problems=(404,))
    def item_get(*, item_id: int) -> ItemOut:
        if item_id > 45:
            raise mf.ProblemError(404, f"no item {item_id}")
        return ItemOut(id=item_id, name=f"item {item_id}")

    @api.operation("GET", "/boom", summary="Fails unexpectedly", tags=["internal"])
    def boom() -> dict:
        raise RuntimeError("secret internal detail")

    @api.operation("GET", "/bad-output", summary="Builds an invalid model", tags=["internal"])
    def bad_output() -> ScoreOut:
        return ScoreOut.model_validate({"probability": "not a number", "model": 1})

    @api.operation("POST", "/scores/upload", summary="Score a CSV file", tags=["scoring"],
                   request_body=mf.csv_upload_body(), responses={200: mf.csv_download_response()})
    def score_upload() -> object:
        table = mf.csv_upload_read(required_columns=["income", "age"])
        rows = [{**row, "note": row.get("note", "")} for row in table.rows]
        return mf.csv_response(columns=["income", "age", "note"], rows=rows, filename="scores.csv")

    app.register_blueprint(api)

    @app.route("/notes", methods=["GET", "POST"])
    def notes() -> object:
        if request.method == "POST":
            flash(f"saved {request.form.get('text', '')}", "ok")
            return redirect(url_for("notes"))
        return render_template_string(FORM_PAGE)

    return app


@pytest.fixture
def registry() -> ModelRegistry:
    return registry_from_settings()


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'toy.sqlite3'}")
    yield engine
    engine.dispose()


@pytest.fixture
def current(registry: ModelRegistry) -> CurrentModel:
    return CurrentModel(registry, MODEL_NAME, check_interval=0.0)


@pytest.fixture
def make_app(engine: sa.Engine, current: CurrentModel) -> Callable[..., Flask]:
    def make(**overrides: object) -> Flask:
        return app_create(engine=overrides.get("engine", engine), current=current)  # type: ignore[arg-type]

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def token(engine: sa.Engine) -> str:
    return TokenStore(engine).token_create(name="tester")
