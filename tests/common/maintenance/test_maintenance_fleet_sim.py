"""Simulated machines for live telemetry: valid readings, drifts toward each failure mode, engine overhauls."""

from __future__ import annotations

import argparse

import pandas as pd

from common.maintenance.features import physics_features
from common.maintenance.fleet_sim import DRIFT_PROCESSES, REPAIR_AFTER, SimulatedMachine, fleet_create
from common.maintenance.schemas import TelemetryReadingIn
from common.maintenance.simulate import configure_parser
from tests.maintenance_flask.support import at


def _run(machine: SimulatedMachine, count: int) -> pd.DataFrame:
    readings = [machine.next_reading(timestamp=at(i)) for i in range(count)]
    for reading in readings:
        TelemetryReadingIn(**reading)  # every simulated reading passes the API's validation
    return _with_physics(readings)


def _with_physics(readings: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(readings)
    return pd.concat([frame, physics_features(readings=frame)[["power_w", "heat_dissipation_condition",
                                                      "overstrain_condition"]]], axis=1)


def test_fleet_rotates_scenarios_with_stable_ids() -> None:
    fleet = fleet_create(machines=6, seed=1)
    assert [m.machine_id for m in fleet] == [f"machine-{i:02d}" for i in range(1, 7)]
    assert [m.scenario for m in fleet] == ["power", "healthy", "heat", "overstrain", "healthy", "power"]
    assert [m.machine_id for m in fleet_create(machines=2, seed=1, prefix="line-a")] == ["line-a-01", "line-a-02"]


def test_drifting_machines_reach_their_failure_conditions_then_get_repaired() -> None:
    fleet = {m.scenario: m for m in fleet_create(machines=5, seed=3)}
    period = DRIFT_PROCESSES + REPAIR_AFTER
    conditions = {"power": lambda f: f["power_w"] > 9000, "heat": lambda f: f["heat_dissipation_condition"] == 1,
                  "overstrain": lambda f: f["overstrain_condition"] == 1}
    for scenario, condition in conditions.items():
        machine = fleet[scenario]
        drifts = []
        frame = []
        for i in range(2 * period):
            drifts.append(machine.drift())
            frame.append(machine.next_reading(timestamp=at(i)))
        hits = condition(_with_physics(frame)).to_numpy()
        drifted = [d == 1.0 for d in drifts]
        assert hits[drifted].mean() > 0.5, scenario  # fully drifted: mostly in failure conditions
        assert 0.0 in drifts[1:], scenario  # repaired: the drift starts over
    healthy = _run(fleet["healthy"], 2 * period)
    # A healthy machine meets failure conditions about as rarely as the AI4I processes (3 %).
    assert ((healthy["power_w"] > 9000) | (healthy["overstrain_condition"] == 1)).mean() < 0.05


def test_the_first_machine_starts_near_failure_so_a_demo_alerts_quickly() -> None:
    first = fleet_create(machines=8, seed=0)[0]
    readings = _run(first, 20)
    assert (readings["power_w"] > 9000).any()


def test_engines_are_overhauled_after_failure() -> None:
    machine = fleet_create(machines=1, seed=2)[0]
    remaining = machine.engine.remaining_cycles
    cycles = [machine.next_reading(timestamp=at(i))["engine"]["cycle"] for i in range(remaining + 3)]
    assert cycles[remaining] == 1 and cycles[remaining - 1] > 100
    assert cycles[remaining + 2] == 3


def test_cli_arguments() -> None:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    args = parser.parse_args(["maintenance", "--machines", "3", "--rate", "2", "--url", "http://x:1", "--count", "4"])
    assert (args.scenario, args.machines, args.rate, args.url, args.count, args.backfill) == \
        ("maintenance", 3, 2.0, "http://x:1", 4, 60)
