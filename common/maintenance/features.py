"""Features of the two maintenance models.

Failure risk (one row per reading): the product type, the five sensors, and
physics features: mechanical power, process - air temperature, tool strain
(wear x torque) and its margin to the product type's overstrain limit, plus the
documented AI4I failure rules as 0/1 indicators (power outside 3,500-9,000 W,
temperature difference < 8.6 K at speed < 1,380 rpm, strain over the limit).
Identifiers and the failure-mode flags are never inputs.

Remaining useful life (one row per engine cycle): for each informative sensor,
the last value, mean / standard deviation / least-squares slope over the last
30 cycles, an exponentially weighted mean and the slope over the last 90
cycles, plus the cycle count.  Every feature looks back at most 90 cycles, so
live scoring needs only a bounded history.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------- failure risk
PRODUCT_TYPES = ("L", "M", "H")
PRODUCT_TYPE_CODE = {"L": 0, "M": 1, "H": 2}
SENSOR_COLUMNS = (
    "air_temperature_k", "process_temperature_k", "rotational_speed_rpm", "torque_nm", "tool_wear_min",
)
READING_COLUMNS = ("product_type", *SENSOR_COLUMNS)
FAILURE_TARGET = "machine_failure"
# failure-mode flag -> the name used in outputs
FAILURE_MODES = {"twf": "tool_wear", "hdf": "heat_dissipation", "pwf": "power", "osf": "overstrain"}

POWER_LIMITS_W = (3500.0, 9000.0)
HDF_TEMPERATURE_DIFFERENCE_K = 8.6
HDF_SPEED_RPM = 1380.0
OSF_LIMIT_MIN_NM = {"L": 11_000.0, "M": 12_000.0, "H": 13_000.0}
TOOL_REPLACEMENT_WEAR_MIN = (200.0, 240.0)

PHYSICS_FEATURES = (
    "product_type_code", *SENSOR_COLUMNS,
    "power_w", "temperature_difference_k", "strain_min_nm", "strain_margin_min_nm",
    "power_below_limit", "power_above_limit", "heat_dissipation_condition", "overstrain_condition",
)
# Feature groups for explanations: a group is replaced as a whole, so an indicator
# never contradicts the value it is derived from.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "product type": ("product_type_code",),
    "air temperature": ("air_temperature_k",),
    "process temperature": ("process_temperature_k",),
    "rotational speed": ("rotational_speed_rpm",),
    "torque": ("torque_nm",),
    "tool wear": ("tool_wear_min",),
    "power": ("power_w", "power_below_limit", "power_above_limit"),
    "temperature difference": ("temperature_difference_k", "heat_dissipation_condition"),
    "tool strain": ("strain_min_nm", "strain_margin_min_nm", "overstrain_condition"),
}


def power_from(*, torque_nm: np.ndarray | float, rotational_speed_rpm: np.ndarray | float) -> np.ndarray | float:
    """Mechanical power in W: torque (Nm) times angular speed (rad/s)."""
    return np.multiply(torque_nm, np.multiply(rotational_speed_rpm, 2.0 * math.pi / 60.0))


def physics_features(*, readings: pd.DataFrame) -> pd.DataFrame:
    """The model inputs of each reading (columns `PHYSICS_FEATURES`, float64)."""
    missing = [c for c in READING_COLUMNS if c not in readings.columns]
    if missing:
        raise ValueError(f"readings lack columns {missing}")
    product_type = readings["product_type"].astype(str)
    unknown = sorted(set(product_type) - set(PRODUCT_TYPES))
    if unknown:
        raise ValueError(f"unknown product types {unknown}; expected L, M or H")
    air = readings["air_temperature_k"].to_numpy(float)
    process = readings["process_temperature_k"].to_numpy(float)
    speed = readings["rotational_speed_rpm"].to_numpy(float)
    torque = readings["torque_nm"].to_numpy(float)
    wear = readings["tool_wear_min"].to_numpy(float)
    power = power_from(torque_nm=torque, rotational_speed_rpm=speed)
    # Rounded like the published data, so 308.6 - 300.0 is 8.6 and not 8.6000000001.
    difference = np.round(process - air, 6)
    strain = wear * torque
    limit = product_type.map(OSF_LIMIT_MIN_NM).to_numpy(float)
    low, high = POWER_LIMITS_W
    features = pd.DataFrame(
        {
            "product_type_code": product_type.map(PRODUCT_TYPE_CODE).to_numpy(float),
            "air_temperature_k": air,
            "process_temperature_k": process,
            "rotational_speed_rpm": speed,
            "torque_nm": torque,
            "tool_wear_min": wear,
            "power_w": power,
            "temperature_difference_k": difference,
            "strain_min_nm": strain,
            "strain_margin_min_nm": strain - limit,
            "power_below_limit": (power < low).astype(float),
            "power_above_limit": (power > high).astype(float),
            "heat_dissipation_condition": ((difference < HDF_TEMPERATURE_DIFFERENCE_K) & (speed < HDF_SPEED_RPM)).astype(float),
            "overstrain_condition": (strain > limit).astype(float),
        },
        index=readings.index,
    )
    return features[list(PHYSICS_FEATURES)]



def physics_feature_values(
    *, product_type: str, air_temperature_k: float, process_temperature_k: float, rotational_speed_rpm: float,
    torque_nm: float, tool_wear_min: float,
) -> list[float]:
    """The model inputs of one reading (in `PHYSICS_FEATURES` order), without pandas.

    The same values as `physics_features`: Python floats follow the same IEEE
    operations in the same order, and the difference is rounded like `np.round`
    (scale by 1e6, round half to even, scale back).
    """
    if product_type not in PRODUCT_TYPE_CODE:
        raise ValueError(f"unknown product types {[product_type]}; expected L, M or H")
    air, process, speed = float(air_temperature_k), float(process_temperature_k), float(rotational_speed_rpm)
    torque, wear = float(torque_nm), float(tool_wear_min)
    power = torque * (speed * (2.0 * math.pi / 60.0))
    difference = round((process - air) * 1e6) / 1e6
    strain = wear * torque
    limit = OSF_LIMIT_MIN_NM[product_type]
    low, high = POWER_LIMITS_W
    return [
        float(PRODUCT_TYPE_CODE[product_type]), air, process, speed, torque, wear,
        power, difference, strain, strain - limit,
        float(power < low), float(power > high),
        float(difference < HDF_TEMPERATURE_DIFFERENCE_K and speed < HDF_SPEED_RPM), float(strain > limit),
    ]

# --------------------------------------------------------------------------- remaining useful life
ENGINE_SETTINGS = ("setting_1", "setting_2", "setting_3")
ENGINE_SENSORS = tuple(f"s{i}" for i in range(1, 22))
ENGINE_COLUMNS = ("cycle", *ENGINE_SETTINGS, *ENGINE_SENSORS)
RUL_WINDOW = 30
RUL_LONG_WINDOW = 90
RUL_EWM_ALPHA = 0.1
RUL_CAP = 125
# C-MAPSS sensor meanings (Saxena et al. 2008, table 2), for explanations.
ENGINE_SENSOR_NAMES = {
    "s1": "fan inlet temperature T2", "s2": "LPC outlet temperature T24", "s3": "HPC outlet temperature T30",
    "s4": "LPT outlet temperature T50", "s5": "fan inlet pressure P2", "s6": "bypass-duct pressure P15",
    "s7": "HPC outlet pressure P30", "s8": "physical fan speed Nf", "s9": "physical core speed Nc",
    "s10": "engine pressure ratio epr", "s11": "HPC outlet static pressure Ps30",
    "s12": "fuel flow to Ps30 ratio phi", "s13": "corrected fan speed NRf", "s14": "corrected core speed NRc",
    "s15": "bypass ratio BPR", "s16": "burner fuel-air ratio farB", "s17": "bleed enthalpy htBleed",
    "s18": "demanded fan speed Nf_dmd", "s19": "demanded corrected fan speed PCNfR_dmd",
    "s20": "HPT coolant bleed W31", "s21": "LPT coolant bleed W32",
}
RUL_STATISTICS = ("last", "mean30", "std30", "slope30", "ewm", "slope90")


def informative_sensors(*, train: pd.DataFrame) -> tuple[str, ...]:
    """Sensors that vary in the training data (constant or two-valued sensors are dropped)."""
    kept = []
    for sensor in ENGINE_SENSORS:
        values = train[sensor]
        if values.nunique() > 2 and float(values.std()) > 1e-9:
            kept.append(sensor)
    return tuple(kept)


def rul_feature_names(*, sensors: Sequence[str]) -> list[str]:
    return [f"{sensor}_{stat}" for stat in RUL_STATISTICS for sensor in sensors] + ["cycle_count"]


def _rolling(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trailing mean, standard deviation and least-squares slope per cycle over `window` cycles."""
    rows, width = values.shape
    zeros = np.zeros((1, width))
    cum = np.vstack([zeros, np.cumsum(values, axis=0)])
    cum_sq = np.vstack([zeros, np.cumsum(values * values, axis=0)])
    t = np.arange(rows, dtype=float)
    cum_t = np.concatenate([[0.0], np.cumsum(t)])
    cum_tt = np.concatenate([[0.0], np.cumsum(t * t)])
    cum_xt = np.vstack([zeros, np.cumsum(values * t[:, None], axis=0)])
    end = np.arange(rows) + 1
    start = np.maximum(0, end - window)
    count = (end - start).astype(float)[:, None]
    sum_x = cum[end] - cum[start]
    sum_xx = cum_sq[end] - cum_sq[start]
    sum_t = (cum_t[end] - cum_t[start])[:, None]
    sum_tt = (cum_tt[end] - cum_tt[start])[:, None]
    sum_xt = cum_xt[end] - cum_xt[start]
    mean = sum_x / count
    std = np.sqrt(np.maximum(sum_xx / count - mean * mean, 0.0))
    spread = sum_tt - sum_t * sum_t / count
    safe = np.where(spread > 1e-9, spread, 1.0)
    slope = np.where(spread > 1e-9, (sum_xt - sum_t * sum_x / count) / safe, 0.0)
    return mean, std, slope


def _ewm(values: np.ndarray, alpha: float) -> np.ndarray:
    out = np.empty_like(values)
    weight_sum = 0.0
    acc = np.zeros(values.shape[1])
    # Bias-corrected (adjust=True) exponentially weighted mean, like pandas' ewm(alpha).mean().
    for i, row in enumerate(values):
        acc = acc * (1.0 - alpha) + row
        weight_sum = weight_sum * (1.0 - alpha) + 1.0
        out[i] = acc / weight_sum
    return out


def engine_runs(*, cycles: np.ndarray) -> np.ndarray:
    """Run number of each row of one machine's cycle sequence: a new run starts when the cycle resets."""
    cycles = np.asarray(cycles)
    if cycles.size == 0:
        return np.zeros(0, dtype=np.int64)
    resets = np.concatenate([[0], (np.diff(cycles) <= 0).astype(np.int64)])
    return np.cumsum(resets)


def rul_features(*, frame: pd.DataFrame, sensors: Sequence[str]) -> pd.DataFrame:
    """Windowed features of every row of `frame` (columns unit, cycle, sensors), in frame order.

    Rows are grouped by `unit` and must be in cycle order within a unit.
    """
    missing = [c for c in ("unit", "cycle", *sensors) if c not in frame.columns]
    if missing:
        raise ValueError(f"engine cycles lack columns {missing}")
    names = rul_feature_names(sensors=sensors)
    result = np.empty((len(frame), len(names)))
    units = frame["unit"].to_numpy()
    values_all = frame[list(sensors)].to_numpy(float)
    cycles_all = frame["cycle"].to_numpy(float)
    # Positions of each unit's rows (stable, keeps cycle order).
    order = np.argsort(units, kind="stable")
    boundaries = np.flatnonzero(np.diff(units[order])) + 1
    for positions in np.split(order, boundaries):
        if positions.size == 0:
            continue
        values = values_all[positions]
        mean30, std30, slope30 = _rolling(values, RUL_WINDOW)
        _, _, slope90 = _rolling(values, RUL_LONG_WINDOW)
        ewm = _ewm(values, RUL_EWM_ALPHA)
        result[positions] = np.hstack([values, mean30, std30, slope30, ewm, slope90, cycles_all[positions, None]])
    return pd.DataFrame(result, columns=names, index=frame.index)


def rul_feature_groups(*, sensors: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Explanation groups: every statistic of a sensor together, and the cycle count."""
    groups = {f"{s} {ENGINE_SENSOR_NAMES[s]}": tuple(f"{s}_{stat}" for stat in RUL_STATISTICS) for s in sensors}
    groups["cycle count"] = ("cycle_count",)
    return groups
