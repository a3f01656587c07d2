"""The article's Django endpoint in the recommender project: `POST /api/predict/` with form fields feature_0..9."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender_django.settings.test")

import django  # noqa: E402

django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.test import Client  # noqa: E402

from common.registry import ModelRegistry  # noqa: E402
from common.settings import Settings  # noqa: E402
from recommender_django.handlers import cookieless_stateless  # noqa: E402
from recommender_django.seed.views import seed_service  # noqa: E402
from tests.recommender_django.chains import both  # noqa: E402
from tests.support.seed import seed_install, seed_trained  # noqa: E402
from tests.support.servers import wsgi_server  # noqa: E402

URL = "/api/predict/"
EXAMPLE = [5.0, 48.0, 36.0, 51.0, 125.0, 3000.0, 0.0, 1000.0, 1400.0, 0.0]
RISKY = [0.0, 60.0, 22.0, 90.0, 40.0, 0.0, 2000.0, 3000.0, 3100.0, 1.0]


def _form(features: list[float]) -> dict[str, str]:
    return {f"feature_{i}": f"{v:g}" for i, v in enumerate(features)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_trained(root=tmp_path_factory.mktemp("seed"))[0]


@pytest.fixture
def registry(trained: Path, isolated_settings: Settings) -> Iterator[ModelRegistry]:
    seed_service.cache_clear()  # the process-wide service reads this test's model store
    yield seed_install(trained_root=trained, store=isolated_settings.model_store_dir)
    seed_service.cache_clear()


@pytest.fixture
def client(registry: ModelRegistry) -> Client:
    # CSRF checks on, as in production: the article's clients send no token.
    return Client(enforce_csrf_checks=True)


def test_the_articles_client_works_unchanged(registry: ModelRegistry) -> None:
    with wsgi_server(WSGIHandler()) as base:
        # the article's client: form fields feature_0 ... feature_9
        response = requests.post(f"{base}{URL}", data=_form(EXAMPLE), timeout=10)
    assert response.status_code == 200
    body = response.json()
    model = registry.load("seed").artifact
    assert body["prediction"] == int(model.predict(np.array([EXAMPLE]))[0]) and type(body["prediction"]) is int
    assert body["probability"] == pytest.approx(float(model.predict_proba(np.array([EXAMPLE]))[0, 1]), abs=1e-12)


def test_json_is_accepted_too_and_answers_like_flask(client: Client) -> None:
    form = client.post(URL, _form(RISKY)).json()
    as_json = client.post(URL, {"features": RISKY}, content_type="application/json").json()
    assert form == as_json
    assert as_json["prediction"] == 1 and as_json["probability"] > 0.5
    safe = client.post(URL, {"features": EXAMPLE}, content_type="application/json").json()
    assert safe["prediction"] == 0 and safe["probability"] < 0.5


def test_urlencoded_body_and_curl_style_json_are_accepted(client: Client) -> None:
    encoded = "&".join(f"{k}={v}" for k, v in _form(RISKY).items())
    assert client.post(URL, encoded, content_type="application/x-www-form-urlencoded").json()["prediction"] == 1
    curl_json = '{"features": [0, 60, 22, 90, 40, 0, 2000, 3000, 3100, 1]}'
    assert client.post(URL, curl_json, content_type="application/x-www-form-urlencoded").json()["prediction"] == 1


def test_missing_field_is_a_400_naming_it(client: Client) -> None:
    form = _form(EXAMPLE)
    del form["feature_4"]
    response = client.post(URL, form)
    assert response.status_code == 400  # the article: KeyError -> 500
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400
    assert [e["field"] for e in problem["errors"]] == ["feature_4"]
    assert "income" in problem["errors"][0]["message"]


def test_non_numeric_and_extra_fields_are_named(client: Client) -> None:
    form = _form(EXAMPLE) | {"feature_2": "old", "feature_10": "1"}
    errors = client.post(URL, form).json()["errors"]
    assert {e["field"] for e in errors} == {"feature_2", "feature_10"}


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [({"features": EXAMPLE[:9]}, "application/json", "features"),
     ("{broken", "application/json", "(body)"),
     ("", "text/plain", "(body)")],
)
def test_other_bad_requests_are_400_problems(client: Client, body: object, content_type: str, field: str) -> None:
    response = client.post(URL, body, content_type=content_type)
    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}


def test_get_is_405_with_allow(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 405  # the article: 200 with an error body
    assert response["Allow"] == "POST"
    assert response.json()["status"] == 405


def test_no_model_is_a_503_problem(isolated_settings: Settings) -> None:
    seed_service.cache_clear()
    try:
        response = Client().post(URL, _form(EXAMPLE))
    finally:
        seed_service.cache_clear()
    assert response.status_code == 503
    assert "seed" in response.json()["detail"]


def test_the_model_is_loaded_once(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    original = ModelRegistry.load

    def counting_load(self: ModelRegistry, name: str, version: str | None = None):  # noqa: ANN202
        loads.append(name)
        return original(self, name, version)

    monkeypatch.setattr(ModelRegistry, "load", counting_load)
    for _ in range(5):
        assert client.post(URL, _form(EXAMPLE)).status_code == 200
    assert loads == ["seed"]


@pytest.mark.parametrize(("method", "extra", "status"), [
    ("post", {"data": _form(EXAMPLE)}, 200),  # the article's client
    ("post", {"data": {"features": RISKY}, "content_type": "application/json"}, 200),
    ("post", {"data": {k: v for k, v in _form(EXAMPLE).items() if k != "feature_3"}}, 400),
    ("post", {"data": "{not json", "content_type": "application/json"}, 400),
    ("get", {}, 405),
    ("put", {"data": _form(EXAMPLE)}, 405),
])
def test_cookie_less_calls_take_the_short_chain_and_get_the_full_chains_answer(
    client: Client, chains: list[str], method: str, extra: dict, status: int,
) -> None:
    """The seed view reads no session or user (handlers.py): without cookies the short middleware chain
    answers every method, header for header what the full chain answers."""
    assert both(client, method, URL, **extra)[0] == status
    assert chains == ["short"]


def test_calls_with_cookies_take_the_full_chain(client: Client, chains: list[str]) -> None:
    client.cookies["sessionid"] = "whatever"
    assert both(client, "post", URL, data=_form(EXAMPLE))[0] == 200
    assert chains == []


def test_only_csrf_exempt_views_can_be_stateless_in_the_short_chain() -> None:
    def view(request: object) -> None: ...

    with pytest.raises(django.core.exceptions.ImproperlyConfigured, match="csrf_exempt"):
        cookieless_stateless(view)
