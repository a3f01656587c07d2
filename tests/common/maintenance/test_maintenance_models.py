"""The trained maintenance models: what they record, how they behave, and which data they used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.datasets.degradation_sim import simulate_fleet
from common.maintenance.features import PHYSICS_FEATURES
from common.maintenance.models import forest_predict_proba
from common.maintenance.prediction import failure_predict
from common.maintenance.schemas import ReadingIn
from common.maintenance.training import (
    alert_threshold_for_precision,
    rul_cut_rows,
    training_data_load,
)
from common.registry import LoadedModel
from common.settings import get_settings
from tests.maintenance_flask.support import HEALTHY_READING, HEAT_FAILURE_READING, POWER_FAILURE_READING


def _predict(loaded: LoadedModel, *readings: dict) -> list:
    return failure_predict(loaded=loaded, readings=[ReadingIn(**r) for r in readings])


def test_model_card_metadata_says_which_data_and_how_it_was_evaluated(failure_loaded: LoadedModel,
                                                                       rul_loaded: LoadedModel) -> None:
    failure_meta, rul_meta = failure_loaded.metadata, rul_loaded.metadata
    assert failure_meta["training_data"]["dataset"] == "ai4i-sim" and failure_meta["training_data"]["simulated"]
    assert failure_meta["training_data"]["source"].startswith("simulator")
    assert "stratified CV" in failure_meta["evaluation"]["protocol"]
    assert rul_meta["training_data"]["dataset"] == "cmapss-sim"
    assert "grouped by engine" in rul_meta["evaluation"]["protocol"]
    assert set(failure_meta["signature"]["features"]) == set(PHYSICS_FEATURES)
    leaks = {"udi", "product_id", "twf", "hdf", "pwf", "osf", "rnf"}
    assert set(failure_meta["signature"]["never_inputs"]) == leaks
    assert not (leaks | {"machine_failure"}) & set(failure_meta["signature"]["features"])


def test_alert_threshold_keeps_precision_at_least_point_nine(failure_loaded: LoadedModel) -> None:
    metrics = failure_loaded.metadata["metrics"]
    assert metrics["precision"] >= 0.9
    assert metrics["alert_threshold"] == pytest.approx(failure_loaded.artifact.threshold_)
    matrix = failure_loaded.metadata["model_card"]["confusion_matrix"]
    assert matrix["tp"] / (matrix["tp"] + matrix["fp"]) >= 0.9


def test_readings_in_failure_conditions_get_high_risk_and_the_right_mode(failure_loaded: LoadedModel) -> None:
    healthy, power, heat = _predict(failure_loaded, HEALTHY_READING, POWER_FAILURE_READING, HEAT_FAILURE_READING)
    assert healthy.failure_probability < 0.1 and not healthy.alert
    assert power.failure_probability > 0.5 and power.alert
    assert heat.failure_probability > 0.5 and heat.alert
    assert power.mode_probabilities.power == max(power.mode_probabilities.model_dump().values())
    assert heat.mode_probabilities.heat_dissipation == max(heat.mode_probabilities.model_dump().values())


def test_a_hotter_slower_machine_never_lowers_heat_dissipation_risk(failure_loaded: LoadedModel) -> None:
    """Direction check: shrinking the temperature difference or the speed never lowers P(HDF)."""
    base = {**HEALTHY_READING, "product_type": "L", "torque_nm": 52.0, "air_temperature_k": 302.0}
    grid = [{**base, "process_temperature_k": 302.0 + d, "rotational_speed_rpm": s}
            for s in (1500, 1420, 1370, 1300) for d in (11.0, 9.5, 8.7, 8.4, 8.0)]
    modes = np.array([p.mode_probabilities.heat_dissipation for p in _predict(failure_loaded, *grid)]).reshape(4, 5)
    assert (np.diff(modes, axis=1) >= -0.02).all()  # smaller difference (left to right): not lower
    assert (np.diff(modes, axis=0) >= -0.02).all()  # slower spindle (top to bottom): not lower
    assert modes[-1, -1] > 0.5 > modes[0, 0]


def test_fast_forest_probabilities_equal_scikit_learns(failure_loaded: LoadedModel) -> None:
    from common.datasets.ai4i_sim import simulate_ai4i
    from common.maintenance.features import physics_features

    features = physics_features(readings=simulate_ai4i(rows=400, seed=8))
    classifier = failure_loaded.artifact.pipelines_["machine_failure"].named_steps["classifier"]
    np.testing.assert_allclose(forest_predict_proba(classifier=classifier, features=features), classifier.predict_proba(features))


def test_rul_falls_as_an_engine_wears_and_stays_within_the_cap(rul_loaded: LoadedModel) -> None:
    model = rul_loaded.artifact
    engines = simulate_fleet(engines=6, seed=33)["train"]
    predicted = model.predict(engines)
    assert predicted.min() >= 0 and predicted.max() <= model.cap
    fraction = engines["cycle"] / engines.groupby("unit")["cycle"].transform("max")
    early, late = predicted[(fraction > 0.2) & (fraction < 0.3)], predicted[fraction > 0.95]
    assert early.mean() > 90 and late.mean() < 30


def test_rul_test_scores_are_recorded(rul_loaded: LoadedModel) -> None:
    metrics = rul_loaded.metadata["metrics"]
    assert 0 < metrics["test_rmse"] < 25 and metrics["test_engines"] == 40
    pairs = rul_loaded.metadata["model_card"]["rul_test"]
    assert len(pairs) == 40 and all(0 <= p <= 125 for _, p in pairs)


def test_training_uses_the_real_file_when_it_is_available(mirror_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLAPPS_DATA_MIRROR", str(mirror_dir))
    get_settings.cache_clear()
    data = training_data_load(real="ai4i-2020", simulated="ai4i-sim", choice=None, seed=0)
    assert data.dataset == "ai4i-2020" and data.source == "real file (mirror)" and not data.simulated


def test_training_falls_back_to_the_simulator_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLAPPS_DATA_MIRROR", str(tmp_path / "empty-mirror"))
    get_settings.cache_clear()
    data = training_data_load(real="cmapss-fd001", simulated="cmapss-sim", choice=None, seed=0,
                              sim_options={"engines": 3})
    assert data.dataset == "cmapss-sim" and data.simulated
    assert data.source.startswith("simulator (real file unavailable") and "cmapss-fd001" in data.source
    with pytest.raises(RuntimeError, match="not available"):
        training_data_load(real="cmapss-fd001", simulated="cmapss-sim", choice="real", seed=0)


def test_alert_threshold_is_the_best_f1_among_thresholds_with_enough_precision() -> None:
    y = np.array([1, 1, 1, 1, 0, 1, 0, 0, 0, 0])
    p = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    # Lowest threshold reaching precision 0.8 is 0.5 (5 of 6); F1 is best there too.
    assert alert_threshold_for_precision(y_true=y, y_prob=p, min_precision=0.8) == 0.5
    # Precision 0.9 is only reached from 0.7 up (4 of 4).
    assert alert_threshold_for_precision(y_true=y, y_prob=p, min_precision=0.9) == 0.7


def test_rul_cut_points_are_drawn_like_the_test_set() -> None:
    train = simulate_fleet(engines=5, seed=2)["train"]
    rows = rul_cut_rows(frame=train, seed=0)
    remaining = (train.groupby("unit")["cycle"].transform("max") - train["cycle"]).to_numpy()[rows]
    assert len(rows) == 25 and remaining.min() >= 7 and remaining.max() <= 145
    assert (train["cycle"].to_numpy()[rows] >= 31).all()
    assert pd.Series(rows).is_unique
