"""Simulated machines for live telemetry: AI4I-like processes plus a C-MAPSS-like engine.

Every reading of a `SimulatedMachine` is one process in the AI4I sense
(product type, air / process temperature, speed, torque, tool wear; the same
generation rules as `common.datasets.ai4i_sim`) and one cycle of the machine's
engine (`common.datasets.degradation_sim.EngineRun`; a failed engine is
overhauled and starts again at cycle 1).  Each machine follows a scenario:

- `healthy`: normal processes; the tool is replaced inside the 200-240 min window;
- `heat`: the process - air temperature difference sinks toward 8 K while torque
  rises (so speed falls below 1,380 rpm): heat-dissipation conditions;
- `power`: torque climbs until power passes 9,000 W: power failure conditions;
- `overstrain`: high torque and a tool kept past its replacement window:
  wear x torque passes the product type's limit.

A drifting machine gets "repaired" (back to normal) some processes after it
reaches its failure conditions, then drifts again, so a dashboard keeps moving.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np

from common.datasets.ai4i_sim import (
    PRODUCT_TYPE_SHARES,
    PRODUCT_TYPES,
    SPEED_NOISE_SD_RPM,
    TOOL_REPLACEMENT_WEAR_MIN,
    WEAR_PER_PROCESS_MIN,
    speed_for_torque,
)
from common.datasets.degradation_sim import EngineRun

Scenario = Literal["healthy", "heat", "power", "overstrain"]
SCENARIO_CYCLE: tuple[Scenario, ...] = ("power", "healthy", "heat", "overstrain", "healthy")
DRIFT_PROCESSES = 60  # processes from normal to failure conditions
REPAIR_AFTER = 25  # processes spent in failure conditions before a repair


@dataclasses.dataclass
class SimulatedMachine:
    machine_id: str
    scenario: Scenario
    rng: np.random.Generator
    engine_start_cycle: int = 1
    drift_start: int = 0  # process index at which the drift begins (negative: already under way)
    air_temperature_k: float = 300.0
    temperature_offset_k: float = 10.0
    tool_wear_min: float = 0.0
    processes: int = 0
    engine: EngineRun = dataclasses.field(init=False)
    _tool_limit: float = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.engine = EngineRun(rng=self.rng, start_cycle=self.engine_start_cycle)
        self._tool_limit = float(self.rng.integers(TOOL_REPLACEMENT_WEAR_MIN[0], TOOL_REPLACEMENT_WEAR_MIN[1] + 1))
        self.air_temperature_k = float(self.rng.normal(300.0, 1.0))

    def drift(self) -> float:
        """0 (normal) .. 1 (fully in failure conditions); resets after the repair."""
        if self.scenario == "healthy":
            return 0.0
        period = DRIFT_PROCESSES + REPAIR_AFTER
        step = (self.processes - self.drift_start) % period
        return min(1.0, max(0.0, step / DRIFT_PROCESSES))

    def next_reading(self, *, timestamp: dt.datetime) -> dict[str, Any]:
        """The next process and engine cycle as a reading (JSON-ready)."""
        rng = self.rng
        drift = self.drift()
        product_type = str(rng.choice(np.array(PRODUCT_TYPES), p=PRODUCT_TYPE_SHARES))
        # Air temperature: slow mean-reverting walk around 300 K.
        self.air_temperature_k += rng.normal(0.0, 0.08) - 0.01 * (self.air_temperature_k - 300.0)
        target_offset = 10.0 - (2.1 * drift if self.scenario == "heat" else 0.0)
        self.temperature_offset_k += rng.normal(0.0, 0.05) + 0.2 * (target_offset - self.temperature_offset_k)
        torque_mean = 40.0 + {"heat": 16.0, "power": 32.0, "overstrain": 18.0}.get(self.scenario, 0.0) * drift
        torque = float(max(3.5, rng.normal(torque_mean, 10.0 * (1.0 - 0.7 * drift))))
        speed = float(speed_for_torque(torque_nm=np.array([torque]))[0] + rng.normal(0.0, SPEED_NOISE_SD_RPM))
        # Tool: replaced in its window, except that an overstrained machine's tool is kept on.
        keep_tool = self.scenario == "overstrain" and drift > 0.3
        if self.tool_wear_min >= self._tool_limit and not keep_tool:
            self.tool_wear_min = 0.0
            self._tool_limit = float(rng.integers(TOOL_REPLACEMENT_WEAR_MIN[0], TOOL_REPLACEMENT_WEAR_MIN[1] + 1))
        if self.scenario == "overstrain" and drift > 0.3 and self.tool_wear_min < 150:
            self.tool_wear_min = 150.0 + 60.0 * drift  # a worn tool fitted instead of a new one
        wear = self.tool_wear_min
        self.tool_wear_min += WEAR_PER_PROCESS_MIN[product_type]
        if self.engine.failed:
            self.engine = EngineRun(rng=rng)  # overhaul: a new engine run from cycle 1
        engine = self.engine.next_cycle()
        self.processes += 1
        return {
            "timestamp": timestamp.isoformat(),
            "product_type": product_type,
            "air_temperature_k": round(self.air_temperature_k, 1),
            "process_temperature_k": round(self.air_temperature_k + self.temperature_offset_k, 1),
            "rotational_speed_rpm": round(max(speed, 200.0)),
            "torque_nm": round(torque, 1),
            "tool_wear_min": round(wear),
            "engine": engine,
        }


def fleet_create(*, machines: int, seed: int = 0, prefix: str = "machine") -> list[SimulatedMachine]:
    """`machines` simulated machines; scenarios rotate power, healthy, heat, overstrain, healthy.

    The first drifting machine starts near its failure conditions and every
    third engine starts late in its life, so alerts come within the first
    minute of a demo.
    """
    rng = np.random.default_rng(seed)
    fleet = []
    for index in range(machines):
        scenario = SCENARIO_CYCLE[index % len(SCENARIO_CYCLE)]
        machine_rng = np.random.default_rng(rng.integers(0, 2**63 - 1))
        drift_start = -int(DRIFT_PROCESSES * 0.8) if index == 0 else int(rng.integers(0, DRIFT_PROCESSES))
        engine_start = int(rng.integers(120, 170)) if index % 3 == 0 else int(rng.integers(1, 60))
        fleet.append(SimulatedMachine(machine_id=f"{prefix}-{index + 1:02d}", scenario=scenario, rng=machine_rng,
                                      engine_start_cycle=engine_start, drift_start=drift_start))
    return fleet


def readings_stream(
    *, machine: SimulatedMachine, start: dt.datetime, interval: dt.timedelta
) -> Iterator[dict[str, Any]]:
    """Readings of one machine at `start`, `start + interval`, ... (endless)."""
    timestamp = start
    while True:
        yield machine.next_reading(timestamp=timestamp)
        timestamp += interval
