"""Physics features of readings and windowed features of engine cycles."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from common.datasets.ai4i_sim import failure_modes, simulate_ai4i
from common.maintenance.features import (
    PHYSICS_FEATURES,
    engine_runs,
    informative_sensors,
    physics_features,
    rul_feature_names,
    rul_features,
)


def _reading(**overrides: object) -> pd.DataFrame:
    base = {"product_type": "L", "air_temperature_k": 300.0, "process_temperature_k": 310.0,
            "rotational_speed_rpm": 1500.0, "torque_nm": 40.0, "tool_wear_min": 100.0}
    return pd.DataFrame([{**base, **overrides}])


def test_power_is_torque_times_angular_speed() -> None:
    features = physics_features(readings=_reading(torque_nm=40.0, rotational_speed_rpm=1500.0)).iloc[0]
    assert features["power_w"] == pytest.approx(40.0 * 1500.0 * 2 * math.pi / 60)  # 6,283 W
    assert features["power_below_limit"] == 0 and features["power_above_limit"] == 0
    assert physics_features(readings=_reading(torque_nm=20.0, rotational_speed_rpm=1500.0)).iloc[0]["power_below_limit"] == 1
    assert physics_features(readings=_reading(torque_nm=70.0, rotational_speed_rpm=1300.0)).iloc[0]["power_above_limit"] == 1


def test_temperature_difference_is_exact_at_the_heat_dissipation_limit() -> None:
    # 308.6 - 300.0 is 8.600000000000023 in floating point; the rule must not fire on it.
    at_limit = physics_features(readings=_reading(air_temperature_k=300.0, process_temperature_k=308.6, rotational_speed_rpm=1300)).iloc[0]
    assert at_limit["temperature_difference_k"] == 8.6 and at_limit["heat_dissipation_condition"] == 0
    below = physics_features(readings=_reading(air_temperature_k=300.0, process_temperature_k=308.5, rotational_speed_rpm=1300)).iloc[0]
    assert below["heat_dissipation_condition"] == 1
    fast = physics_features(readings=_reading(air_temperature_k=300.0, process_temperature_k=308.5, rotational_speed_rpm=1380)).iloc[0]
    assert fast["heat_dissipation_condition"] == 0


@pytest.mark.parametrize(("product_type", "limit"), [("L", 11_000), ("M", 12_000), ("H", 13_000)])
def test_strain_margin_uses_the_product_types_limit(product_type: str, limit: int) -> None:
    features = physics_features(readings=_reading(product_type=product_type, tool_wear_min=200.0, torque_nm=60.0)).iloc[0]
    assert features["strain_min_nm"] == 12_000
    assert features["strain_margin_min_nm"] == 12_000 - limit
    assert features["overstrain_condition"] == int(12_000 > limit)


def test_rule_indicators_agree_with_the_simulators_failure_modes() -> None:
    readings = simulate_ai4i(rows=5_000, seed=2)
    features = physics_features(readings=readings)
    modes = failure_modes(frame=readings)
    assert (features["heat_dissipation_condition"] == modes["hdf"]).all()
    assert ((features["power_below_limit"] + features["power_above_limit"]) == modes["pwf"]).all()
    assert (features["overstrain_condition"] == modes["osf"]).all()


def test_identifiers_and_failure_flags_never_reach_the_model() -> None:
    readings = simulate_ai4i(rows=50, seed=3)
    features = physics_features(readings=readings)
    assert list(features.columns) == list(PHYSICS_FEATURES)
    shuffled = readings.assign(udi=0, product_id="X", machine_failure=1, twf=1, hdf=1, pwf=1, osf=1, rnf=1)
    pd.testing.assert_frame_equal(physics_features(readings=shuffled), features)


def test_unknown_product_type_and_missing_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown product types"):
        physics_features(readings=_reading(product_type="X"))
    with pytest.raises(ValueError, match="torque_nm"):
        physics_features(readings=_reading().drop(columns=["torque_nm"]))


def _engine(values: np.ndarray, *, unit: int = 1) -> pd.DataFrame:
    return pd.DataFrame({"unit": unit, "cycle": np.arange(1, len(values) + 1), "s2": values})


def test_rolling_statistics_of_a_known_sequence() -> None:
    ramp = 640.0 + 0.5 * np.arange(100)
    features = rul_features(frame=_engine(ramp), sensors=["s2"])
    last = features.iloc[-1]
    assert last["s2_last"] == ramp[-1]
    assert last["s2_mean30"] == pytest.approx(ramp[-30:].mean())
    assert last["s2_std30"] == pytest.approx(ramp[-30:].std())
    assert last["s2_slope30"] == pytest.approx(0.5) and last["s2_slope90"] == pytest.approx(0.5)
    assert last["cycle_count"] == 100
    assert features.iloc[0]["s2_slope30"] == 0.0  # one cycle: no slope yet
    assert list(features.columns) == rul_feature_names(sensors=["s2"])


def test_windows_look_back_only_and_never_cross_engines() -> None:
    rng = np.random.default_rng(0)
    first, second = 640 + rng.normal(size=80), 650 + rng.normal(size=50)
    both = pd.concat([_engine(first, unit=1), _engine(second, unit=2)], ignore_index=True)
    features = rul_features(frame=both, sensors=["s2"])
    alone = rul_features(frame=_engine(second, unit=2), sensors=["s2"])
    np.testing.assert_allclose(features.iloc[80:].to_numpy(), alone.to_numpy())
    truncated = rul_features(frame=_engine(first[:40]), sensors=["s2"])  # the future does not change the past
    np.testing.assert_allclose(features.iloc[:40].to_numpy(), truncated.to_numpy())


def test_constant_sensors_are_dropped() -> None:
    frame = pd.DataFrame({f"s{i}": np.linspace(0, 1, 50) for i in range(1, 22)})
    frame["s1"] = 518.67
    frame["s6"] = np.where(np.arange(50) % 2, 21.60, 21.61)  # two values: sensor noise, not signal
    kept = informative_sensors(train=frame)
    assert "s1" not in kept and "s6" not in kept and "s2" in kept and len(kept) == 19


def test_a_cycle_reset_starts_a_new_engine_run() -> None:
    assert engine_runs(cycles=np.array([5, 6, 7, 1, 2, 3, 3])).tolist() == [0, 0, 0, 1, 1, 1, 2]
    assert engine_runs(cycles=np.array([], dtype=int)).tolist() == []
