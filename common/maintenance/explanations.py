"""Why a prediction came out as it did.

Two kinds of explanation go with every prediction:

- physics conditions: which documented AI4I failure rule a reading meets
  ("beyond") or is close to ("near"), said in plain numbers, e.g.
  "power 3,620 W, near the 3,500 W lower limit";
- top contributing features: each feature group (power, tool strain, ...) is
  set to its value in a typical healthy reading and the prediction recomputed;
  the difference is the group's contribution (occlusion, model-agnostic).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from common.maintenance.features import (
    FEATURE_GROUPS,
    HDF_SPEED_RPM,
    HDF_TEMPERATURE_DIFFERENCE_K,
    OSF_LIMIT_MIN_NM,
    POWER_LIMITS_W,
    TOOL_REPLACEMENT_WEAR_MIN,
    rul_feature_groups,
)
from common.maintenance.models import FailureRiskModel, RulModel

# How close counts as "near" a limit.
POWER_NEAR_SHARE = 0.10  # within 10 % of a power limit
HDF_NEAR_KELVIN = 0.5  # temperature difference within 0.5 K above 8.6 K ...
HDF_NEAR_RPM = 60.0  # ... while speed is within 60 rpm above 1,380 rpm
OSF_NEAR_SHARE = 0.90  # strain at 90 % of the type's limit
TOOL_WEAR_NEAR_MIN = 180.0  # approaching the replacement window
TOP_FEATURES = 3
# The value shown for a feature group: its headline feature.
GROUP_VALUE = {
    "air temperature": "air_temperature_k",
    "process temperature": "process_temperature_k", "rotational speed": "rotational_speed_rpm",
    "torque": "torque_nm", "tool wear": "tool_wear_min", "power": "power_w",
    "temperature difference": "temperature_difference_k", "tool strain": "strain_min_nm",
}


def _n(value: float, decimals: int = 0) -> str:
    return f"{value:,.{decimals}f}"


def physics_conditions(*, features: Mapping[str, float] | pd.Series, product_type: str) -> list[dict[str, Any]]:
    """The documented failure conditions one reading meets or is near (a physics feature row or mapping)."""
    return physics_conditions_of(
        power=float(features["power_w"]), difference=float(features["temperature_difference_k"]),
        speed=float(features["rotational_speed_rpm"]), strain=float(features["strain_min_nm"]),
        wear=float(features["tool_wear_min"]), product_type=product_type,
    )


def physics_conditions_of(
    *, power: float, difference: float, speed: float, strain: float, wear: float, product_type: str,
) -> list[dict[str, Any]]:
    """`physics_conditions` of one reading's power (W), process - air temperature (K), speed (rpm), strain
    (min.Nm) and tool wear (min)."""
    conditions: list[dict[str, Any]] = []
    low, high = POWER_LIMITS_W
    if power < low:
        conditions.append(_condition("power", "beyond", f"power {_n(power)} W, below the {_n(low)} W lower limit", power, low, "W"))
    elif power < low * (1 + POWER_NEAR_SHARE):
        conditions.append(_condition("power", "near", f"power {_n(power)} W, near the {_n(low)} W lower limit", power, low, "W"))
    elif power > high:
        conditions.append(_condition("power", "beyond", f"power {_n(power)} W, above the {_n(high)} W upper limit", power, high, "W"))
    elif power > high * (1 - POWER_NEAR_SHARE):
        conditions.append(_condition("power", "near", f"power {_n(power)} W, near the {_n(high)} W upper limit", power, high, "W"))

    hot = difference < HDF_TEMPERATURE_DIFFERENCE_K
    slow = speed < HDF_SPEED_RPM
    if hot and slow:
        conditions.append(_condition(
            "heat_dissipation", "beyond",
            f"process - air temperature {_n(difference, 1)} K, below {HDF_TEMPERATURE_DIFFERENCE_K} K, "
            f"at {_n(speed)} rpm, below {_n(HDF_SPEED_RPM)} rpm: heat cannot dissipate",
            difference, HDF_TEMPERATURE_DIFFERENCE_K, "K"))
    elif difference < HDF_TEMPERATURE_DIFFERENCE_K + HDF_NEAR_KELVIN and speed < HDF_SPEED_RPM + HDF_NEAR_RPM:
        conditions.append(_condition(
            "heat_dissipation", "near",
            f"process - air temperature {_n(difference, 1)} K at {_n(speed)} rpm, near the heat-dissipation "
            f"limit ({HDF_TEMPERATURE_DIFFERENCE_K} K below {_n(HDF_SPEED_RPM)} rpm)",
            difference, HDF_TEMPERATURE_DIFFERENCE_K, "K"))

    limit = OSF_LIMIT_MIN_NM[product_type]
    if strain > limit:
        conditions.append(_condition(
            "overstrain", "beyond",
            f"tool wear x torque {_n(strain)} min.Nm, above the {_n(limit)} min.Nm limit of type {product_type}",
            strain, limit, "min.Nm"))
    elif strain >= limit * OSF_NEAR_SHARE:
        conditions.append(_condition(
            "overstrain", "near",
            f"tool wear x torque {_n(strain)} min.Nm, near the {_n(limit)} min.Nm limit of type {product_type}",
            strain, limit, "min.Nm"))

    first, last = TOOL_REPLACEMENT_WEAR_MIN
    if wear >= first:
        conditions.append(_condition(
            "tool_wear", "beyond",
            f"tool wear {_n(wear)} min, in the {_n(first)}-{_n(last)} min window where tools fail or are replaced",
            wear, first, "min"))
    elif wear >= TOOL_WEAR_NEAR_MIN:
        conditions.append(_condition(
            "tool_wear", "near", f"tool wear {_n(wear)} min, near the {_n(first)} min replacement window",
            wear, first, "min"))
    return conditions


def _condition(mode: str, status: str, message: str, value: float, limit: float, unit: str) -> dict[str, Any]:
    return {"mode": mode, "status": status, "message": message, "value": round(value, 3), "limit": limit, "unit": unit}


def _occlusion(
    *, features: pd.DataFrame, groups: dict[str, tuple[str, ...]], reference: dict[str, float], predict: Any
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Prediction of each row, and of each row with one group set to the reference, in one call."""
    rows = len(features)
    variants = [features]
    for columns in groups.values():
        varied = features.copy()
        for column in columns:
            varied[column] = reference[column]
        variants.append(varied)
    predictions = np.asarray(predict(pd.concat(variants, ignore_index=True)), dtype=float)
    base = predictions[:rows]
    replaced = {name: predictions[(i + 1) * rows:(i + 2) * rows] for i, name in enumerate(groups)}
    return base, replaced


def _top(
    *, features: pd.DataFrame, base: np.ndarray, replaced: dict[str, np.ndarray], value_of: dict[str, str],
    top: int, decimals: int,
) -> list[list[dict[str, Any]]]:
    result = []
    for i in range(len(features)):
        contributions = sorted(
            ((name, float(base[i] - values[i])) for name, values in replaced.items()),
            key=lambda item: abs(item[1]), reverse=True,
        )
        chosen = [c for c in contributions[:top] if abs(c[1]) > 10 ** (-decimals)]
        result.append([
            {"feature": name, "value": round(float(features.iloc[i][value_of[name]]), 3) if name in value_of else None,
             "contribution": round(delta, decimals)}
            for name, delta in chosen
        ])
    return result


def failure_top_features(*, model: FailureRiskModel, features: pd.DataFrame, top: int = TOP_FEATURES) -> list[list[dict[str, Any]]]:
    """Per reading, the feature groups that moved P(failure) most (signed, in probability)."""
    base, replaced = _occlusion(features=features, groups=FEATURE_GROUPS, reference=model.reference_,
                                predict=model.failure_probability_from_features)
    return _top(features=features, base=base, replaced=replaced, value_of=GROUP_VALUE, top=top, decimals=3)


def rul_top_features(*, model: RulModel, features: pd.DataFrame, top: int = TOP_FEATURES) -> list[list[dict[str, Any]]]:
    """Per cycle, the sensors that moved predicted RUL most (signed, in cycles; negative = shorter life)."""
    groups = rul_feature_groups(sensors=model.sensors_)
    value_of = {name: columns[0] for name, columns in groups.items()}  # the sensor's last value
    base, replaced = _occlusion(features=features, groups=groups, reference=model.reference_,
                                predict=model.predict_from_features)
    return _top(features=features, base=base, replaced=replaced, value_of=value_of, top=top, decimals=1)
