"""The served failure model: compiled trees stored with the version, same answers as the scikit-learn pipelines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pydantic_core
import pytest

from common.datasets.ai4i_sim import simulate_ai4i
from common.maintenance import compiled, prediction
from common.compiled_trees import _walk_compiled
from common.maintenance.compiled import (ARRAY_PREFIX, FAILURE_OUTPUTS, FailureScorer, FailureScores, failure_scorer,
                                         failure_scorer_build)
from common.maintenance.features import PHYSICS_FEATURES, READING_COLUMNS, physics_feature_values, physics_features
from common.maintenance.prediction import failure_predict
from common.maintenance.schemas import ReadingIn
from common.registry import LoadedModel, ModelRegistry
from tests.maintenance_flask.support import HEALTHY_READING, HEAT_FAILURE_READING, POWER_FAILURE_READING


def _readings(frame: pd.DataFrame) -> list[ReadingIn]:
    return [ReadingIn(**row) for row in frame[list(READING_COLUMNS)].to_dict("records")]


def test_one_readings_features_without_pandas_equal_the_frame_features() -> None:
    readings = simulate_ai4i(rows=3000, seed=11)[list(READING_COLUMNS)]
    rng = np.random.default_rng(0)
    edges = pd.DataFrame({  # the documented rule boundaries, exactly on and around them
        "product_type": rng.choice(["L", "M", "H"], 600),
        "air_temperature_k": rng.choice([300.0, 300.1, 299.95], 600),
        "process_temperature_k": rng.choice([308.6, 308.7, 308.55, 310.0], 600),
        "rotational_speed_rpm": rng.choice([1380.0, 1379.9, 1168.0, 2000.0], 600),
        "torque_nm": rng.choice([28.6, 40.0, 55.0, 73.5], 600),
        "tool_wear_min": rng.choice([0.0, 200.0, 157.14285714285714, 220.0], 600),
    })
    for frame in (readings, edges):
        expected = physics_features(readings=frame).to_numpy()
        rows = np.array([physics_feature_values(**row) for row in frame.to_dict("records")])
        np.testing.assert_array_equal(rows, expected)
    with pytest.raises(ValueError, match="product type"):
        physics_feature_values(**{**HEALTHY_READING, "product_type": "X"})


def test_compiled_probabilities_equal_the_pipelines_on_thousands_of_readings(failure_loaded: LoadedModel) -> None:
    readings = simulate_ai4i(rows=3000, seed=12)
    expected = failure_loaded.artifact.predict_proba_frame(readings)[list(FAILURE_OUTPUTS)].to_numpy()
    scorer = failure_scorer(loaded=failure_loaded)
    got = scorer.trees.predict(physics_features(readings=readings).to_numpy())
    np.testing.assert_allclose(got, expected, rtol=0, atol=0)


def test_the_trained_version_stores_its_compiled_trees_and_serving_maps_them(failure_loaded: LoadedModel) -> None:
    stored = {name for name in failure_loaded.arrays if name.startswith(ARRAY_PREFIX)}
    assert f"{ARRAY_PREFIX}threshold" in stored and f"{ARRAY_PREFIX}tree_root" in stored
    assert all(name in failure_loaded.metadata["files"] for name in (f"{n}.npy" for n in stored))  # checksummed
    scorer = failure_scorer(loaded=failure_loaded)
    assert np.shares_memory(scorer.trees.threshold, failure_loaded.arrays[f"{ARRAY_PREFIX}threshold"])
    assert failure_scorer(loaded=failure_loaded) is scorer  # built once per loaded version


def test_answers_with_explanations_are_the_same_as_the_pipelines(failure_loaded: LoadedModel) -> None:
    frame = pd.concat([pd.DataFrame([HEALTHY_READING, POWER_FAILURE_READING, HEAT_FAILURE_READING]),
                       simulate_ai4i(rows=40, seed=13)[list(READING_COLUMNS)]], ignore_index=True)
    readings = _readings(frame)
    for explain in (True, False):
        served = [p.model_dump() for p in failure_predict(loaded=failure_loaded, readings=readings, explain=explain)]
        pipelines = prediction._failure_answers_pipelines(loaded=failure_loaded, readings=readings, explain=explain)
        assert served == pipelines
    assert any(p["top_features"] for p in served) is False  # explain=False: none
    explained = failure_predict(loaded=failure_loaded, readings=readings[:3])
    assert explained[1].top_features and explained[1].conditions  # the power failure is explained


def test_a_reading_is_served_without_the_pipelines(failure_loaded: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = failure_predict(loaded=failure_loaded, readings=_readings(pd.DataFrame([POWER_FAILURE_READING])))

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the scikit-learn pipelines were called for one reading")

    monkeypatch.setattr(prediction, "_failure_answers_pipelines", refuse)
    served = failure_predict(loaded=failure_loaded, readings=_readings(pd.DataFrame([POWER_FAILURE_READING])))
    assert served == expected


def test_large_batches_use_the_pipelines(failure_loaded: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    readings = _readings(simulate_ai4i(rows=compiled.COMPILED_MAX_READINGS + 1, seed=14))
    monkeypatch.setattr(prediction, "failure_scorer", lambda **_: pytest.fail("compiled path used for a big batch"))
    assert len(failure_predict(loaded=failure_loaded, readings=readings, explain=False)) == len(readings)


def test_a_version_saved_without_compiled_trees_is_compiled_when_served(failure_loaded: LoadedModel,
                                                                        tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    registry.save(name="maintenance-failure", artifact=failure_loaded.artifact, metadata={})
    older = registry.load("maintenance-failure")
    assert not older.arrays
    readings = _readings(pd.DataFrame([HEALTHY_READING, HEAT_FAILURE_READING]))
    answers = [p.model_dump(exclude={"model_version"}) for p in failure_predict(loaded=older, readings=readings)]
    expected = [p.model_dump(exclude={"model_version"}) for p in failure_predict(loaded=failure_loaded, readings=readings)]
    assert failure_scorer(loaded=older) is not None and answers == expected


def test_building_a_scorer_compiles_the_walks_so_that_requests_do_not(failure_loaded: LoadedModel) -> None:
    failure_scorer_build(model=failure_loaded.artifact, arrays=dict(failure_loaded.arrays))
    walks = (_walk_compiled("walk", packed=True), _walk_compiled("occlusions", packed=True))  # without, with explanations
    compiled_when_built = [list(walk.signatures) for walk in walks]
    assert all(compiled_when_built)
    for rows in ([POWER_FAILURE_READING], [HEALTHY_READING, POWER_FAILURE_READING, HEAT_FAILURE_READING]):
        for explain in (True, False):
            failure_predict(loaded=failure_loaded, readings=_readings(pd.DataFrame(rows)), explain=explain)
    assert [list(walk.signatures) for walk in walks] == compiled_when_built


def _scores_walking_every_variant(scorer: FailureScorer, features: np.ndarray) -> FailureScores:
    """What `FailureScorer.score` did before occlusion walks: every occlusion variant built and walked from the root."""
    occluded = np.zeros((len(scorer.groups), features.shape[1]), dtype=bool)
    for g, (_name, columns) in enumerate(scorer.groups):
        occluded[g, columns] = True
    variants = np.where(occluded, scorer.reference, features[:, None, :]).reshape(-1, features.shape[1])
    readings = features.shape[0]
    predicted = scorer.trees.predict(np.concatenate([features, variants]), outputs_by_row=(
        [tuple(range(len(FAILURE_OUTPUTS)))] * readings + [(0,)] * len(variants)))
    probabilities = predicted[:readings]
    replaced = predicted[readings:, 0].reshape(readings, len(scorer.groups))
    return FailureScores(probabilities=probabilities, top_features=[
        scorer._top(features=features[i].tolist(), base=float(probabilities[i, 0]), replaced=replaced[i].tolist(),
                    top=3)
        for i in range(readings)])


def test_explained_scores_equal_walking_every_occlusion_variant(failure_loaded: LoadedModel) -> None:
    """Bit for bit, on simulated readings, the benchmark reading, the reference and features at exact thresholds."""
    scorer = failure_scorer(loaded=failure_loaded)
    assert scorer is not None and scorer.trees._nodes[0] is True  # the served model is walked packed
    simulated = physics_features(readings=simulate_ai4i(rows=400, seed=15)).to_numpy()
    benchmark = np.asarray([physics_feature_values(product_type="L", air_temperature_k=300.1,
                                                   process_temperature_k=310.2, rotational_speed_rpm=1500.0,
                                                   torque_nm=40.0, tool_wear_min=100.0)])
    # Features set exactly at, or one float32 step around, thresholds of the machine-failure trees.
    trees = scorer.trees
    failure_trees = int((trees.member_output[trees.tree_member] == 0).sum())  # the first trees
    assert 0 < failure_trees < trees.n_trees
    internal = np.flatnonzero((trees.left != np.arange(trees.n_nodes))[:trees.tree_root[failure_trees]])
    rng = np.random.default_rng(16)
    edges = simulated[rng.integers(len(simulated), size=600)].copy()
    for row, node in zip(edges, rng.choice(internal, size=len(edges)), strict=True):
        t32 = np.float32(trees.threshold[node])
        row[trees.feature[node]] = rng.choice([trees.threshold[node], t32, np.nextafter(t32, np.float32(np.inf)),
                                               np.nextafter(t32, np.float32(-np.inf))])
    rows = np.concatenate([benchmark, scorer.reference[None, :], simulated, edges])
    start = 0
    for size in (1, 2, 7, 64, 1, 33, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64):
        batch = rows[start:start + size]
        start += size
        if not len(batch):
            break
        got, expected = scorer.score(features=batch, explain=True), _scores_walking_every_variant(scorer, batch)
        np.testing.assert_array_equal(got.probabilities, expected.probabilities)
        assert got.top_features == expected.top_features
        np.testing.assert_array_equal(scorer.score(features=batch, explain=False).probabilities, expected.probabilities)
    assert start >= len(rows)
    # The reference reading explains nothing: every variant is the reading itself.
    assert scorer.score(features=scorer.reference[None, :]).top_features == [[]]


def test_top_features_are_the_largest_changes_above_the_threshold_ties_in_group_order(
        failure_loaded: LoadedModel) -> None:
    """`FailureScorer._top` drops the changes of 10**-3 or less before sorting: the same ones, in the same order, as
    sorting them all (largest first, ties in group order) and then dropping them."""
    scorer = failure_scorer(loaded=failure_loaded)
    groups = len(scorer.groups)
    rng = np.random.default_rng(17)
    features = [float(v) for v in rng.normal(size=len(PHYSICS_FEATURES))]

    def sorted_then_dropped(base: float, replaced: list[float], top: int) -> list[dict]:
        contributions = sorted(((g, base - value) for g, value in enumerate(replaced)), key=lambda item: abs(item[1]),
                               reverse=True)
        return [{"feature": scorer.groups[g][0],
                 "value": round(features[scorer.value_columns[g]], 3) if scorer.value_columns[g] is not None else None,
                 "contribution": round(delta, 3)}
                for g, delta in contributions[:top] if abs(delta) > 10 ** (-3)]

    choices = [0.0, 0.001, -0.001, 0.0010000000000000002, 0.002, -0.002, 0.05, -0.05, 0.3]
    for _ in range(3000):
        base = float(rng.choice([0.0, 0.25, 0.5]))
        replaced = [base - float(d) for d in rng.choice(choices, size=groups)]  # many ties, some at 10**-3 exactly
        for top in (1, 3, groups):
            assert scorer._top(features=features, base=base, replaced=replaced, top=top) == \
                sorted_then_dropped(base, replaced, top)


def test_answers_are_the_predictions_and_their_json_is_the_models_json(failure_loaded: LoadedModel) -> None:
    """`failure_answers` (what the API writes, without building models) equals `failure_predict`, and its JSON
    is the models' JSON byte for byte: compiled trees and pipelines, with and without explanations."""
    frame = pd.concat([pd.DataFrame([HEALTHY_READING, POWER_FAILURE_READING, HEAT_FAILURE_READING,
                                     {**POWER_FAILURE_READING, "torque_nm": 69.3, "tool_wear_min": 215},
                                     {**HEAT_FAILURE_READING, "rotational_speed_rpm": 1381, "torque_nm": 25.0}]),
                       simulate_ai4i(rows=120, seed=18)[list(READING_COLUMNS)]], ignore_index=True)
    readings = _readings(frame)
    for batch in (readings[:1], readings[:5], readings[:64], readings):  # the last one: the pipelines
        for explain in (True, False):
            answers = prediction.failure_answers(loaded=failure_loaded, readings=batch, explain=explain)
            predictions = failure_predict(loaded=failure_loaded, readings=batch, explain=explain)
            assert answers == [p.model_dump() for p in predictions]
            assert [pydantic_core.to_json(a) for a in answers] == [p.model_dump_json().encode() for p in predictions]
    explained = prediction.failure_answers(loaded=failure_loaded, readings=readings[:5])
    assert any(a["conditions"] for a in explained) and any(a["top_features"] for a in explained)  # both were written


def test_no_rows_score_to_nothing(failure_loaded: LoadedModel) -> None:
    scorer = failure_scorer(loaded=failure_loaded)
    for explain in (True, False):
        assert scorer.score_rows([], explain=explain) == ([], [])
        scores = scorer.score(features=np.empty((0, len(PHYSICS_FEATURES))), explain=explain)
        assert scores.probabilities.shape == (0, len(FAILURE_OUTPUTS)) and scores.top_features == []
