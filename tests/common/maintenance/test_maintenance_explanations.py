"""Explanations: the documented rules a reading is near or beyond, and the features that moved the prediction."""

from __future__ import annotations

import pandas as pd
import pytest

from common.maintenance.explanations import failure_top_features, physics_conditions, rul_top_features
from common.maintenance.features import physics_features, rul_features
from common.registry import LoadedModel
from tests.maintenance_flask.support import HEALTHY_READING, HEAT_FAILURE_READING


def _conditions(**reading: object) -> dict[str, dict]:
    frame = pd.DataFrame([{**HEALTHY_READING, **reading}])
    found = physics_conditions(features=physics_features(readings=frame).iloc[0], product_type=str(frame["product_type"][0]))
    return {c["mode"]: c for c in found}


def test_power_near_the_lower_limit_is_said_in_plain_numbers() -> None:
    # 24.7 Nm at 1,400 rpm = 3,621 W: safe, but within 10 % of the 3,500 W lower limit.
    power = _conditions(torque_nm=24.7, rotational_speed_rpm=1400)["power"]
    assert power["status"] == "near"
    assert power["message"] == "power 3,621 W, near the 3,500 W lower limit"


def test_power_beyond_and_near_the_upper_limit() -> None:
    beyond = _conditions(torque_nm=70.0, rotational_speed_rpm=1300)["power"]
    assert beyond["status"] == "beyond" and "above the 9,000 W upper limit" in beyond["message"]
    near = _conditions(torque_nm=62.0, rotational_speed_rpm=1350)["power"]  # 8,765 W
    assert near["status"] == "near" and "near the 9,000 W upper limit" in near["message"]
    low = _conditions(torque_nm=20.0, rotational_speed_rpm=1500)["power"]  # 3,142 W
    assert low["status"] == "beyond" and "below the 3,500 W lower limit" in low["message"]


def test_heat_dissipation_needs_both_a_small_difference_and_a_slow_spindle() -> None:
    beyond = _conditions(air_temperature_k=302.0, process_temperature_k=310.2, rotational_speed_rpm=1330, torque_nm=52)
    assert beyond["heat_dissipation"]["status"] == "beyond"
    assert "8.2 K, below 8.6 K" in beyond["heat_dissipation"]["message"]
    # Small difference but a fast spindle: near (within 60 rpm), not beyond.
    near = _conditions(air_temperature_k=302.0, process_temperature_k=310.2, rotational_speed_rpm=1400, torque_nm=48)
    assert near["heat_dissipation"]["status"] == "near"
    far = _conditions(air_temperature_k=302.0, process_temperature_k=310.2, rotational_speed_rpm=1600, torque_nm=35)
    assert "heat_dissipation" not in far


@pytest.mark.parametrize(("product_type", "status"), [("L", "beyond"), ("M", "near"), ("H", "near")])
def test_overstrain_compares_with_the_product_types_limit(product_type: str, status: str) -> None:
    # 190 min x 60 Nm = 11,400 min.Nm: over L's 11,000, within 90 % of M's 12,000 and H's 13,000 (11,700).
    found = _conditions(product_type=product_type, tool_wear_min=190, torque_nm=60.0, rotational_speed_rpm=1300)
    if product_type == "H":
        assert "overstrain" not in found  # 11,400 < 0.9 x 13,000
    else:
        assert found["overstrain"]["status"] == status
        assert f"limit of type {product_type}" in found["overstrain"]["message"]


def test_tool_wear_window_and_a_healthy_reading() -> None:
    assert _conditions(tool_wear_min=215)["tool_wear"]["status"] == "beyond"
    assert _conditions(tool_wear_min=185)["tool_wear"]["status"] == "near"
    assert _conditions() == {}


def test_the_heat_condition_drives_the_prediction_of_a_heat_failure_reading(failure_loaded: LoadedModel) -> None:
    features = physics_features(readings=pd.DataFrame([HEAT_FAILURE_READING, HEALTHY_READING]))
    heat, healthy = failure_top_features(model=failure_loaded.artifact, features=features)
    top = {t["feature"]: t for t in heat}
    assert heat[0]["contribution"] > 0.2
    assert "temperature difference" in top and top["temperature difference"]["contribution"] > 0
    assert top["temperature difference"]["value"] == pytest.approx(8.2)
    assert all(abs(t["contribution"]) < 0.1 for t in healthy)


def test_rul_explanations_name_sensors_and_point_to_a_shorter_life(rul_loaded: LoadedModel) -> None:
    from common.datasets.degradation_sim import simulate_fleet

    engine = simulate_fleet(engines=1, seed=21)["train"]
    model = rul_loaded.artifact
    features = rul_features(frame=engine, sensors=model.sensors_).iloc[[-1]]  # the cycle before failure
    top = rul_top_features(model=model, features=features)[0]
    assert top and top[0]["feature"].startswith("s")
    assert sum(t["contribution"] for t in top) < 0  # worn sensors shorten the predicted life
