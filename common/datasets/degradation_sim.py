"""Run-to-failure degradation simulator in the NASA C-MAPSS format (FD001-like).

Each engine follows the damage-propagation model of Saxena et al. (PHM 2008):
its health margin falls as

    h(t) = 1 - d0 - (exp(a * t**b) - 1) / K

with a small initial wear `d0` (manufacturing and assembly differences), an
exponent `b` and a rate `a` drawn per engine, and K = 19 so that damage grows
slowly at first and then exponentially (about 15 % of the total at mid-life,
half of it in the last fifth of life, as in FD001).  The engine fails when h
reaches 0; `a` is solved from the engine's drawn life so lives spread like
FD001's (about 130-360 cycles).

Sensors follow the damage: `s_j = baseline_j + offset_j + sensitivity_j * damage + noise_j`
with the start-of-life means, end-of-life shifts and noise levels measured on
FD001 (one operating condition, HPC degradation).  Sensors that are constant
in FD001 (s1, s5, s10, s16, s18, s19) are constant here; the three operational
settings are near 0, 0 and 100.

`simulate_fleet(engines=N)` returns train (N engines run to failure), test
(N other engines cut off before failure) and rul (true remaining cycles of
each test engine at its last cycle), shaped like the `cmapss-fd001` loader.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from common.datasets.builtin import CMAPSS_COLUMNS

SENSORS = tuple(f"s{i}" for i in range(1, 22))
SETTINGS = ("setting_1", "setting_2", "setting_3")

# sensor: (start-of-life mean, shift at failure, noise SD, engine-to-engine offset SD, decimals)
SENSOR_MODEL: dict[str, tuple[float, float, float, float, int]] = {
    "s1": (518.67, 0.0, 0.0, 0.0, 2),
    "s2": (642.38, 1.33, 0.30, 0.08, 2),
    "s3": (1586.84, 15.5, 4.0, 1.5, 2),
    "s4": (1402.76, 26.6, 4.0, 2.0, 2),
    "s5": (14.62, 0.0, 0.0, 0.0, 2),
    "s6": (21.6095, 0.0005, 0.0013, 0.0, 2),
    "s7": (553.95, -2.52, 0.41, 0.15, 2),
    "s8": (2388.058, 0.18, 0.031, 0.02, 2),
    "s9": (9056.0, 43.0, 4.2, 12.0, 2),
    "s10": (1.30, 0.0, 0.0, 0.0, 2),
    "s11": (47.352, 0.81, 0.10, 0.03, 2),
    "s12": (521.91, -2.16, 0.30, 0.12, 2),
    "s13": (2388.056, 0.185, 0.031, 0.02, 2),
    "s14": (8137.37, 30.2, 3.2, 10.0, 2),
    "s15": (8.4183, 0.105, 0.020, 0.005, 4),
    "s16": (0.03, 0.0, 0.0, 0.0, 2),
    "s17": (392.26, 4.08, 0.95, 0.3, 0),
    "s18": (2388.0, 0.0, 0.0, 0.0, 0),
    "s19": (100.0, 0.0, 0.0, 0.0, 2),
    "s20": (38.933, -0.50, 0.10, 0.04, 2),
    "s21": (23.360, -0.296, 0.060, 0.025, 4),
}
CONSTANT_SENSORS = tuple(s for s, model in SENSOR_MODEL.items() if model[1] == 0.0 and model[2] == 0.0)
DAMAGE_SCALE_K = 19.0
LIFE_MEDIAN_CYCLES = 200.0
LIFE_LOG_SD = 0.22
LIFE_RANGE_CYCLES = (128, 362)
EXPONENT_RANGE = (0.9, 1.3)
INITIAL_WEAR_MAX = 0.05
TEST_RUL_RANGE = (7, 145)
TEST_MIN_CYCLES = 31


def health_margin(*, cycles: np.ndarray, a: float, b: float, d0: float) -> np.ndarray:
    """Saxena et al.'s health margin 1 - d0 - (exp(a t^b) - 1) / K; the engine fails at 0."""
    return 1.0 - d0 - (np.exp(a * np.power(cycles, b)) - 1.0) / DAMAGE_SCALE_K


def _engine_parameters(rng: np.random.Generator) -> tuple[int, float, float, float]:
    """(life in cycles, a, b, d0) of one engine; `a` is solved so h(life) = 0."""
    low, high = LIFE_RANGE_CYCLES
    life = int(np.clip(round(LIFE_MEDIAN_CYCLES * math.exp(rng.normal(0.0, LIFE_LOG_SD))), low, high))
    b = float(rng.uniform(*EXPONENT_RANGE))
    d0 = float(rng.uniform(0.0, INITIAL_WEAR_MAX))
    a = math.log(1.0 + DAMAGE_SCALE_K * (1.0 - d0)) / life**b
    return life, a, b, d0


def _engine_offsets(rng: np.random.Generator) -> dict[str, float]:
    """Manufacturing variation: a fixed offset per sensor and engine."""
    return {sensor: (float(rng.normal(0.0, model[3])) if model[3] else 0.0) for sensor, model in SENSOR_MODEL.items()}


def _cycle_values(
    *, damage: np.ndarray, offsets: dict[str, float], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Settings and sensors of cycles at the given damage levels (0 healthy .. 1 failed)."""
    rows = len(damage)
    values: dict[str, np.ndarray] = {
        "setting_1": np.round(rng.normal(0.0, 0.0022, size=rows), 4),
        "setting_2": np.round(rng.normal(0.0, 0.0003, size=rows), 4),
        "setting_3": np.full(rows, 100.0),
    }
    for sensor, (baseline, shift, noise, _offset_sd, decimals) in SENSOR_MODEL.items():
        jitter = rng.normal(0.0, noise, size=rows) if noise > 0 else np.zeros(rows)
        values[sensor] = np.round(baseline + offsets[sensor] + shift * damage + jitter, decimals)
    return values


def simulate_engine(*, unit: int, rng: np.random.Generator) -> tuple[pd.DataFrame, int]:
    """All cycles of one engine run to failure, and its life in cycles."""
    life, a, b, d0 = _engine_parameters(rng)
    t = np.arange(1, life + 1, dtype=float)
    damage = 1.0 - health_margin(cycles=t, a=a, b=b, d0=d0)  # d0 at start, 1.0 at failure
    columns = {"unit": np.full(life, unit, dtype=np.int64), "cycle": t.astype(np.int64),
               **_cycle_values(damage=damage, offsets=_engine_offsets(rng), rng=rng)}
    return pd.DataFrame(columns)[list(CMAPSS_COLUMNS)], life


class EngineRun:
    """One engine producing cycles one at a time (for streaming telemetry); fails at `life`.

    `start_cycle` > 1 starts an engine part-way through its life (a fleet is rarely all new).
    """

    def __init__(self, *, rng: np.random.Generator, start_cycle: int = 1) -> None:
        self.rng = rng
        self.life, self.a, self.b, self.d0 = _engine_parameters(rng)
        self.offsets = _engine_offsets(rng)
        self.cycle = min(max(start_cycle, 1), self.life) - 1

    @property
    def remaining_cycles(self) -> int:
        """True RUL after the last produced cycle."""
        return self.life - self.cycle

    @property
    def failed(self) -> bool:
        return self.cycle >= self.life

    def next_cycle(self) -> dict[str, float | int]:
        """The next cycle's settings and sensors (call `failed` first: a failed engine has no next cycle)."""
        if self.failed:
            raise RuntimeError("the engine has failed; start a new EngineRun")
        self.cycle += 1
        damage = 1.0 - health_margin(cycles=np.array([float(self.cycle)]), a=self.a, b=self.b, d0=self.d0)
        values = _cycle_values(damage=damage, offsets=self.offsets, rng=self.rng)
        return {"cycle": self.cycle, **{name: float(column[0]) for name, column in values.items()}}


def simulate_fleet(*, engines: int = 100, seed: int = 0) -> dict[str, pd.DataFrame]:
    """FD001-shaped frames: `train` run to failure, `test` cut short, `rul` of each test engine."""
    if engines < 1:
        raise ValueError("engines must be at least 1")
    rng = np.random.default_rng(seed)
    train = [simulate_engine(unit=unit, rng=rng)[0] for unit in range(1, engines + 1)]
    test, remaining = [], []
    for unit in range(1, engines + 1):
        full, life = simulate_engine(unit=unit, rng=rng)
        low, high = TEST_RUL_RANGE
        rul = int(rng.integers(low, max(low, min(high, life - TEST_MIN_CYCLES)) + 1))
        test.append(full[full["cycle"] <= life - rul])
        remaining.append(rul)
    return {
        "train": pd.concat(train, ignore_index=True),
        "test": pd.concat(test, ignore_index=True),
        "rul": pd.DataFrame({"unit": np.arange(1, engines + 1, dtype=np.int64), "rul": np.array(remaining, dtype=np.int64)}),
    }
