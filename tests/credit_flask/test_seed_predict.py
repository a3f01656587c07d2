"""The article's Flask endpoint in the credit app: `POST /predict`, its request shape and its improvements."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from common.registry import ModelRegistry
from common.settings import Settings
from credit_flask import create_app
from tests.support.seed import seed_install, seed_trained
from tests.support.servers import wsgi_server

EXAMPLE = [5.0, 48.0, 36.0, 51.0, 125.0, 3000.0, 0.0, 1000.0, 1400.0, 0.0]
RISKY = [0.0, 60.0, 22.0, 90.0, 40.0, 0.0, 2000.0, 3000.0, 3100.0, 1.0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_trained(root=tmp_path_factory.mktemp("seed"))[0]


@pytest.fixture
def registry(trained: Path, isolated_settings: Settings) -> ModelRegistry:
    return seed_install(trained_root=trained, store=isolated_settings.model_store_dir)


@pytest.fixture
def app(registry: ModelRegistry, tmp_path: Path) -> Flask:
    # CSRF stays on: the article's clients send no token, and /predict must not need one.
    return create_app({"TESTING": True, "CREDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'credit.sqlite3'}"})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _expected(registry: ModelRegistry, features: list[float]) -> tuple[int, float]:
    model = registry.load("seed").artifact
    row = np.array([features])
    return int(model.predict(row)[0]), float(model.predict_proba(row)[0, 1])


def test_the_articles_client_works_unchanged(app: Flask, registry: ModelRegistry) -> None:
    with wsgi_server(app) as base:
        # the article's client, verbatim apart from the URL
        response = requests.post(f"{base}/predict", json={"features": EXAMPLE}, timeout=10)
    assert response.status_code == 200
    body = response.json()
    prediction, probability = _expected(registry, EXAMPLE)
    assert body["prediction"] == prediction and type(body["prediction"]) is int
    assert body["probability"] == pytest.approx(probability, abs=1e-12)


def test_both_classes_come_out_and_the_probability_is_of_class_1(client: FlaskClient) -> None:
    safe = client.post("/predict", json={"features": EXAMPLE}).get_json()
    risky = client.post("/predict", json={"features": RISKY}).get_json()
    assert (safe["prediction"], risky["prediction"]) == (0, 1)
    assert safe["probability"] < 0.5 < risky["probability"]


def test_form_fields_and_json_sent_as_a_form_are_accepted(client: FlaskClient) -> None:
    form = {f"feature_{i}": str(v) for i, v in enumerate(RISKY)}
    assert client.post("/predict", data=form).get_json()["prediction"] == 1
    # curl -d '{"features": [...]}' without -H: the JSON arrives typed as a form
    raw = client.post("/predict", data='{"features": [0, 60, 22, 90, 40, 0, 2000, 3000, 3100, 1]}',
                      content_type="application/x-www-form-urlencoded")
    assert raw.status_code == 200 and raw.get_json()["prediction"] == 1


def test_wrong_count_is_a_400_problem_naming_it(client: FlaskClient) -> None:
    response = client.post("/predict", json={"features": EXAMPLE[:3]})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 400
    assert problem["errors"] == [{"field": "features", "message": problem["errors"][0]["message"]}]
    assert "expected 10 numbers" in problem["errors"][0]["message"]
    assert "got 3" in problem["errors"][0]["message"]


def test_non_numeric_features_are_a_400_problem_naming_each(client: FlaskClient) -> None:
    features: list[object] = list(EXAMPLE)
    features[2], features[7] = "thirty", None
    response = client.post("/predict", json={"features": features})
    assert response.status_code == 400
    assert {e["field"] for e in response.get_json()["errors"]} == {"features.2", "features.7"}


@pytest.mark.parametrize(
    ("data", "content_type"),
    [("{not json", "application/json"), ('{"features": [NaN, 1, 2, 3, 4, 5, 6, 7, 8, 9]}', "application/json"),
     ('{"rows": []}', "application/json"), ("", "text/plain")],
)
def test_other_bad_bodies_are_400_problems(client: FlaskClient, data: str, content_type: str) -> None:
    response = client.post("/predict", data=data, content_type=content_type)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["field"] in ("(body)", "features")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_are_405_with_allow(client: FlaskClient, method: str) -> None:
    response = client.open("/predict", method=method, headers={"Accept": "text/html"})
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.mimetype == "application/problem+json"  # JSON even for a browser's Accept


def test_no_model_is_a_503_problem(isolated_settings: Settings, tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "CREDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}"})
    response = app.test_client().post("/predict", json={"features": EXAMPLE})
    assert response.status_code == 503
    assert "seed" in response.get_json()["detail"]


def test_the_model_is_loaded_once(app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    original = ModelRegistry.load

    def counting_load(self: ModelRegistry, name: str, version: str | None = None):  # noqa: ANN202
        loads.append(name)
        return original(self, name, version)

    monkeypatch.setattr(ModelRegistry, "load", counting_load)
    for _ in range(5):
        assert client.post("/predict", json={"features": EXAMPLE}).status_code == 200
    assert loads == ["seed"]


def test_the_endpoint_is_documented_in_openapi(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    operation = document["paths"]["/predict"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "application/x-www-form-urlencoded"}
    assert "400" in operation["responses"]

