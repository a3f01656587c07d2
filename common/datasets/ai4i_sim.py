"""Embedded AI4I 2020 generator: the documented generation process, seeded, any row count.

The UCI description of dataset 601 documents how the synthetic milling-machine
data was made; this module follows it step by step and returns the same tidy
columns as the `ai4i-2020` loader (`common.datasets.builtin.AI4I_TIDY`):

- product type L / M / H with shares 60 / 30 / 10 %, product ids numbered per type;
- air temperature: a random walk normalised to SD 2 K around 300 K;
- process temperature: air temperature + 10 K + a random walk normalised to SD 1 K;
- torque: normal around 40 Nm with SD 10 Nm, no negative values;
- rotational speed: follows from torque on the machine's power curve, plus
  normal noise (the curve and noise are fitted to the published file, whose
  mean power is about 6.3 kW; a speed of 1,500 rpm goes with about 40 Nm);
- tool wear: each process adds 5 / 3 / 2 minutes for H / M / L products; the
  tool is replaced or fails at a wear drawn uniformly from 200-240 minutes;
- failure modes, evaluated on the published (rounded) values:
  TWF the tool fails at its replacement wear (51 of 120 replacements fail, as
  documented); HDF process - air temperature < 8.6 K and speed < 1,380 rpm;
  PWF power = torque x speed in rad/s < 3,500 W or > 9,000 W; OSF tool wear x
  torque > 11,000 / 12,000 / 13,000 min.Nm for L / M / H; RNF 0.1 % chance per process;
- machine failure = 1 if any mode fires.

Unlike the real file, the simulator has none of its label quirks (RNF rows
without a machine failure, failures with no mode), so every flag is exactly its rule.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from common.datasets.builtin import AI4I_TIDY, validate_ai4i_frame

PRODUCT_TYPES = ("L", "M", "H")
PRODUCT_TYPE_SHARES = (0.6, 0.3, 0.1)
# Product ids are numbered per type like the published file (M14860, L47181, H29424, ...).
PRODUCT_ID_BASE = {"L": 47179, "M": 14859, "H": 29413}
WEAR_PER_PROCESS_MIN = {"L": 2, "M": 3, "H": 5}
OSF_LIMIT_MIN_NM = {"L": 11_000.0, "M": 12_000.0, "H": 13_000.0}

AIR_TEMPERATURE_MEAN_K = 300.0
AIR_TEMPERATURE_SD_K = 2.0
PROCESS_TEMPERATURE_OFFSET_K = 10.0
PROCESS_TEMPERATURE_SD_K = 1.0
TORQUE_MEAN_NM = 40.0
TORQUE_SD_NM = 10.0
TORQUE_MIN_NM = 3.5
# speed = a + b / torque + c / torque^2 + noise, least-squares fit to the published file
# (residual SD 51 rpm); torque is floored at the curve's turning point inside the formula.
SPEED_CURVE = (929.7, 24_609.8, -68_092.1)
SPEED_NOISE_SD_RPM = 51.3
SPEED_CURVE_MIN_TORQUE_NM = 5.6

TOOL_REPLACEMENT_WEAR_MIN = (200, 240)
TOOL_FAILURE_SHARE = 51 / 120
RANDOM_FAILURE_PROBABILITY = 0.001

HDF_TEMPERATURE_DIFFERENCE_K = 8.6
HDF_SPEED_RPM = 1380.0
PWF_POWER_RANGE_W = (3500.0, 9000.0)


def power_w(*, torque_nm: np.ndarray | float, rotational_speed_rpm: np.ndarray | float) -> np.ndarray | float:
    """Mechanical power: torque times angular speed in rad/s."""
    return np.multiply(torque_nm, np.multiply(rotational_speed_rpm, 2.0 * math.pi / 60.0))


def _normalised_walk(rng: np.random.Generator, *, rows: int, sd: float) -> np.ndarray:
    """A Gaussian random walk rescaled to mean 0 and standard deviation `sd`."""
    walk = np.cumsum(rng.normal(0.0, 1.0, size=rows))
    spread = walk.std()
    if rows < 2 or spread == 0:
        return np.zeros(rows)
    return (walk - walk.mean()) / spread * sd


def speed_for_torque(*, torque_nm: np.ndarray) -> np.ndarray:
    """Expected rotational speed (rpm) at a torque, on the fitted power curve (no noise)."""
    a, b, c = SPEED_CURVE
    torque = np.maximum(np.asarray(torque_nm, dtype=float), SPEED_CURVE_MIN_TORQUE_NM)
    return a + b / torque + c / torque**2


def _torque(rng: np.random.Generator, rows: int) -> np.ndarray:
    torque = rng.normal(TORQUE_MEAN_NM, TORQUE_SD_NM, size=rows)
    # "no negative values": redraw the (rare) draws below the floor.
    low = torque < TORQUE_MIN_NM
    while low.any():
        torque[low] = rng.normal(TORQUE_MEAN_NM, TORQUE_SD_NM, size=int(low.sum()))
        low = torque < TORQUE_MIN_NM
    return torque


def _tool_wear(rng: np.random.Generator, types: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wear before each process (minutes) and the TWF flag of each process.

    A process's wear is the wear accumulated by the earlier processes on the same
    tool. When it reaches the tool's replacement wear, the tool is replaced after
    this process, or fails in it (TWF) with the documented share.
    """
    rows = len(types)
    wear = np.zeros(rows, dtype=np.int64)
    twf = np.zeros(rows, dtype=np.int64)
    low, high = TOOL_REPLACEMENT_WEAR_MIN
    limit = int(rng.integers(low, high + 1))
    current = 0
    for i, product_type in enumerate(types):
        wear[i] = current
        if current >= limit:
            twf[i] = int(rng.random() < TOOL_FAILURE_SHARE)
            current = 0
            limit = int(rng.integers(low, high + 1))
        else:
            current += WEAR_PER_PROCESS_MIN[product_type]
    return wear, twf


def failure_modes(*, frame: pd.DataFrame) -> pd.DataFrame:
    """HDF, PWF and OSF flags of readings by the documented rules (0/1 int columns)."""
    temperature_difference = (frame["process_temperature_k"] - frame["air_temperature_k"]).round(1)
    power = power_w(torque_nm=frame["torque_nm"], rotational_speed_rpm=frame["rotational_speed_rpm"])
    strain = frame["tool_wear_min"] * frame["torque_nm"]
    limit = frame["product_type"].map(OSF_LIMIT_MIN_NM)
    low, high = PWF_POWER_RANGE_W
    return pd.DataFrame(
        {
            "hdf": ((temperature_difference < HDF_TEMPERATURE_DIFFERENCE_K)
                    & (frame["rotational_speed_rpm"] < HDF_SPEED_RPM)).astype("int64"),
            "pwf": ((power < low) | (power > high)).astype("int64"),
            "osf": (strain > limit).astype("int64"),
        },
        index=frame.index,
    )


def simulate_ai4i(*, rows: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """`rows` simulated processes with the tidy AI4I columns, reproducible from `seed`."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    rng = np.random.default_rng(seed)
    types = rng.choice(np.array(PRODUCT_TYPES), size=rows, p=PRODUCT_TYPE_SHARES)
    udi = np.arange(1, rows + 1, dtype=np.int64)
    product_id = [f"{t}{PRODUCT_ID_BASE[t] + u}" for t, u in zip(types, udi, strict=True)]

    air = np.round(AIR_TEMPERATURE_MEAN_K + _normalised_walk(rng, rows=rows, sd=AIR_TEMPERATURE_SD_K), 1)
    process = np.round(
        air + PROCESS_TEMPERATURE_OFFSET_K + _normalised_walk(rng, rows=rows, sd=PROCESS_TEMPERATURE_SD_K), 1
    )
    torque = np.round(_torque(rng, rows), 1)
    speed = np.round(speed_for_torque(torque_nm=torque) + rng.normal(0.0, SPEED_NOISE_SD_RPM, size=rows))
    wear, twf = _tool_wear(rng, types)
    rnf = (rng.random(rows) < RANDOM_FAILURE_PROBABILITY).astype(np.int64)

    frame = pd.DataFrame(
        {
            "udi": udi,
            "product_id": product_id,
            "product_type": types.astype(str),
            "air_temperature_k": air,
            "process_temperature_k": process,
            "rotational_speed_rpm": speed.astype(float),
            "torque_nm": torque,
            "tool_wear_min": wear.astype(float),
        }
    )
    modes = failure_modes(frame=frame)
    frame["twf"] = twf
    frame["hdf"] = modes["hdf"]
    frame["pwf"] = modes["pwf"]
    frame["osf"] = modes["osf"]
    frame["rnf"] = rnf
    frame["machine_failure"] = frame[["twf", "hdf", "pwf", "osf", "rnf"]].max(axis=1).astype("int64")
    return validate_ai4i_frame(frame[list(AI4I_TIDY)])
