"""The seed recipe (the article's model) and the framework-free helpers both apps serve it with."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import joblib
import numpy as np
import pytest

from common.datasets import load_dataset
from common.registry import ModelRegistry, ModelUnavailableError
from common.seed import (
    FEATURE_COUNT,
    SEED_FEATURES,
    SeedInputError,
    SeedPredictionOut,
    SeedScorer,
    SeedService,
    seed_features_from_form,
    seed_features_from_json,
    seed_problem,
    seed_training_arrays,
)
from common.settings import Settings
from common.training import TrainOptions, get_recipe
from tests.support.seed import seed_install, seed_trained

EXAMPLE = [5.0, 48.0, 36.0, 51.0, 125.0, 3000.0, 0.0, 1000.0, 1400.0, 0.0]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    return seed_trained(root=tmp_path_factory.mktemp("seed"))


@pytest.fixture
def registry(trained: tuple[Path, object], isolated_settings: Settings) -> ModelRegistry:
    return seed_install(trained_root=trained[0], store=isolated_settings.model_store_dir)


@pytest.fixture(scope="session")
def applicants() -> tuple[np.ndarray, np.ndarray]:
    return seed_training_arrays(applicants=load_dataset("credit-data")["applicants"])


# --------------------------------------------------------------------------- the recipe
def test_recipe_keeps_the_articles_split_and_records_how_it_was_evaluated(registry: ModelRegistry) -> None:
    metadata = registry.get("seed").metadata
    # 4,454 applicants, test_size=0.2 -> 891 held out, as train_test_split(random_state=42) gives.
    assert metadata["evaluation"]["test_rows"] == 891
    assert metadata["evaluation"]["train_rows"] == 3563
    assert "test_size=0.2, random_state=42" in metadata["evaluation"]["protocol"]
    assert 0.70 < metadata["metrics"]["accuracy"] < 0.85  # the figure the article prints
    assert metadata["metrics"]["roc_auc"] > 0.75
    assert metadata["training_data"]["dataset"] == "credit-data"
    signature = metadata["signature"]["features"]
    assert [f["name"] for f in signature] == [f.name for f in SEED_FEATURES]
    assert [f["form_field"] for f in signature] == [f"feature_{i}" for i in range(10)]


def test_recipe_registers_the_seed_model_and_can_export_the_articles_model_pkl(
    tmp_path: Path, applicants: tuple[np.ndarray, np.ndarray]
) -> None:
    recipe = get_recipe("seed")
    assert recipe.models == ("seed",)
    exported = tmp_path / "model.pkl"
    registry = ModelRegistry(tmp_path / "store")
    result = recipe(
        options=TrainOptions(quick=True, extra={"export": str(exported)}), registry=registry,
        progress=lambda message: None,
    )
    assert [v.ref for v in result.versions] == ["seed@1"]
    assert registry.current_version("seed") == "1"
    # The article's serving code, unchanged: joblib.load('model.pkl') then model.predict on a numpy array.
    model = joblib.load(exported)
    prediction = model.predict([np.array(EXAMPLE)])
    assert int(prediction[0]) in (0, 1)


def test_recipe_refuses_another_dataset(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="credit-data"):
        get_recipe("seed")(options=TrainOptions(dataset="ai4i-sim"), registry=ModelRegistry(tmp_path),
                           progress=lambda message: None)


# --------------------------------------------------------------------------- the lean scorer
def test_lean_scorer_equals_scikit_learn_on_every_applicant(
    registry: ModelRegistry, applicants: tuple[np.ndarray, np.ndarray]
) -> None:
    model = registry.load("seed").artifact
    scorer = SeedScorer(model)
    assert scorer.lean
    features, _ = applicants
    rows = features[~np.isnan(features).any(axis=1)]
    scored = [scorer.score(row.tolist()) for row in rows]
    predictions = np.array([p for p, _ in scored])
    probabilities = np.array([p for _, p in scored])
    np.testing.assert_array_equal(predictions, model.predict(rows))
    np.testing.assert_allclose(probabilities, model.predict_proba(rows)[:, 1], rtol=0, atol=1e-12)
    assert set(predictions) == {0, 1}  # both classes occur, so equality means something


def test_scorer_falls_back_to_scikit_learn_for_another_model_shape(registry: ModelRegistry) -> None:
    from sklearn.ensemble import RandomForestClassifier

    features = np.array([EXAMPLE, [1.0, 60, 25, 90, 60, 0, 500, 3000, 3100, 1]])
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(features, [0, 1])
    scorer = SeedScorer(forest)
    assert not scorer.lean
    expected = (int(forest.predict(features[:1])[0]), float(forest.predict_proba(features[:1])[0, 1]))
    assert scorer.score(EXAMPLE) == expected


def test_service_answers_the_articles_shape_plus_the_probability(registry: ModelRegistry) -> None:
    service = SeedService(registry)
    answer = service.prediction_create(features=EXAMPLE)
    assert set(answer) == {"prediction", "probability"}
    assert isinstance(answer["prediction"], int)
    SeedPredictionOut.model_validate(answer)
    model = registry.load("seed").artifact
    assert answer["prediction"] == int(model.predict([EXAMPLE])[0])


def test_service_picks_up_a_promoted_version_and_reports_a_missing_model(registry: ModelRegistry) -> None:
    service = SeedService(registry)
    service.current.check_interval = 0.0
    before = service.prediction_create(features=EXAMPLE)
    model = registry.load("seed").artifact
    shifted = joblib.load(registry.get("seed").path / "artifact.joblib")
    shifted.named_steps["model"].intercept_ = shifted.named_steps["model"].intercept_ + 5.0  # everyone is bad
    registry.save(name="seed", artifact=shifted, metadata={"algorithm": "test"})
    after = service.prediction_create(features=EXAMPLE)
    assert after["prediction"] == 1 and after["probability"] > before["probability"]
    assert int(model.predict([EXAMPLE])[0]) == before["prediction"]

    with pytest.raises(ModelUnavailableError, match="seed"):
        SeedService(ModelRegistry(registry.root / "empty")).prediction_create(features=EXAMPLE)


# --------------------------------------------------------------------------- request parsing
def test_json_in_the_articles_shape_is_accepted() -> None:
    assert seed_features_from_json(payload={"features": [int(v) for v in EXAMPLE]}) == EXAMPLE
    assert seed_features_from_json(payload={"features": EXAMPLE, "client": "article"}) == EXAMPLE


def test_json_with_feature_fields_is_accepted_too() -> None:
    payload = {f"feature_{i}": v for i, v in enumerate(EXAMPLE)}
    assert seed_features_from_json(payload=payload) == EXAMPLE


def _problem_fields(error: SeedInputError) -> dict[str, str]:
    body = seed_problem(error=error)
    assert body["status"] == 400
    return {e["field"]: e["message"] for e in body["errors"]}


@pytest.mark.parametrize("count", [0, 3, 9, 11])
def test_wrong_feature_count_is_named(count: int) -> None:
    with pytest.raises(SeedInputError) as caught:
        seed_features_from_json(payload={"features": [1.0] * count})
    fields = _problem_fields(caught.value)
    assert fields["features"].startswith(f"expected {FEATURE_COUNT} numbers")
    assert fields["features"].endswith(f"got {count}")


def test_every_non_numeric_feature_is_named() -> None:
    values: list[object] = list(EXAMPLE)
    values[1], values[4], values[9] = "forty", None, True
    with pytest.raises(SeedInputError) as caught:
        seed_features_from_json(payload={"features": values})
    fields = _problem_fields(caught.value)
    assert set(fields) == {"features.1", "features.4", "features.9"}
    assert "'forty'" in fields["features.1"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "features"),
        ({"features": "1,2,3"}, "features"),
        ([1, 2, 3], "(body)"),
        ({"features": [float("nan")] + EXAMPLE[1:]}, "features.0"),
        ({"features": [10**400] + EXAMPLE[1:]}, "features.0"),
    ],
)
def test_other_bad_json_bodies_are_named(payload: object, field: str) -> None:
    with pytest.raises(SeedInputError) as caught:
        seed_features_from_json(payload=payload)
    assert field in _problem_fields(caught.value)


def test_form_fields_in_the_articles_shape_are_accepted() -> None:
    form = {f"feature_{i}": f"{v:g}" for i, v in enumerate(EXAMPLE)}
    assert seed_features_from_form(form=form | {"csrfmiddlewaretoken": "x"}) == EXAMPLE


def test_form_problems_name_each_field() -> None:
    form = {f"feature_{i}": "1" for i in range(10)}
    del form["feature_3"]
    form["feature_5"] = "lots"
    form["feature_10"] = "2"
    with pytest.raises(SeedInputError) as caught:
        seed_features_from_form(form=form)
    fields = _problem_fields(caught.value)
    assert set(fields) == {"feature_3", "feature_5", "feature_10"}
    assert "expenses" in fields["feature_3"]
    assert "unexpected" in fields["feature_10"]


def test_feature_documentation_is_complete() -> None:
    assert len(SEED_FEATURES) == FEATURE_COUNT == 10
    assert all(dataclasses.asdict(f)["description"] for f in SEED_FEATURES)
