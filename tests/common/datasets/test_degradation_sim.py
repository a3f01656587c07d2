"""The run-to-failure simulator produces C-MAPSS FD001-shaped engines with exponentially growing damage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.datasets import load_dataset
from common.datasets.builtin import CMAPSS_COLUMNS, read_cmapss_table
from common.datasets.degradation_sim import (
    CONSTANT_SENSORS,
    SENSOR_MODEL,
    EngineRun,
    health_margin,
    simulate_fleet,
)


@pytest.fixture(scope="module")
def fleet() -> dict[str, pd.DataFrame]:
    return simulate_fleet(engines=60, seed=4)


@pytest.fixture(scope="module")
def real_train(mirror_dir: Path) -> pd.DataFrame:
    return read_cmapss_table(mirror_dir / "cmapss" / "train_FD001.txt")


def _life_fraction(frame: pd.DataFrame) -> pd.Series:
    return frame["cycle"] / frame.groupby("unit")["cycle"].transform("max")


def test_frames_are_shaped_like_the_fd001_loader(fleet: dict[str, pd.DataFrame]) -> None:
    catalog = load_dataset("cmapss-sim", engines=3, seed=1)
    assert set(catalog) == set(fleet) == {"train", "test", "rul"}
    for name in ("train", "test"):
        assert list(fleet[name].columns) == list(CMAPSS_COLUMNS)
        assert fleet[name]["unit"].dtype == np.int64 and fleet[name]["cycle"].dtype == np.int64
        assert all(fleet[name][c].dtype == np.float64 for c in CMAPSS_COLUMNS[2:])
    assert list(fleet["rul"].columns) == ["unit", "rul"]
    assert fleet["train"]["unit"].nunique() == fleet["test"]["unit"].nunique() == len(fleet["rul"]) == 60


def test_each_engine_runs_cycles_one_by_one_from_one(fleet: dict[str, pd.DataFrame]) -> None:
    for frame in (fleet["train"], fleet["test"]):
        for _, engine in frame.groupby("unit"):
            assert engine["cycle"].tolist() == list(range(1, len(engine) + 1))


def test_lives_and_test_cut_offs_span_fd001_ranges(fleet: dict[str, pd.DataFrame]) -> None:
    lives = fleet["train"].groupby("unit")["cycle"].max()
    assert lives.min() >= 128 and lives.max() <= 362
    assert 170 <= lives.median() <= 230
    seen = fleet["test"].groupby("unit")["cycle"].max()
    assert seen.min() >= 31
    assert fleet["rul"]["rul"].between(7, 145).all()


def test_damage_shifts_the_degrading_sensors_and_leaves_constant_ones(fleet: dict[str, pd.DataFrame]) -> None:
    train = fleet["train"]
    fraction = _life_fraction(train)
    start, end = train[fraction <= 0.1], train[fraction >= 0.97]
    for sensor in ("s2", "s3", "s4", "s11", "s15", "s17"):  # rise with HPC degradation
        shift = SENSOR_MODEL[sensor][1]
        assert end[sensor].mean() - start[sensor].mean() > 0.75 * shift
    for sensor in ("s7", "s12", "s20", "s21"):  # fall with it
        shift = SENSOR_MODEL[sensor][1]
        assert end[sensor].mean() - start[sensor].mean() < 0.75 * shift
    for sensor in CONSTANT_SENSORS:
        assert train[sensor].nunique() == 1


def test_damage_grows_exponentially(fleet: dict[str, pd.DataFrame]) -> None:
    """Most of the change comes late in life (Saxena et al.): less than a quarter by mid-life."""
    train = fleet["train"]
    fraction = _life_fraction(train)
    s4 = train.groupby(pd.cut(fraction, [0, 0.1, 0.5, 0.8, 1.0]), observed=True)["s4"].mean()
    total = s4.iloc[-1] - s4.iloc[0]
    assert (s4.iloc[1] - s4.iloc[0]) < 0.25 * total
    assert (s4.iloc[2] - s4.iloc[1]) < (s4.iloc[3] - s4.iloc[2])
    margin = health_margin(cycles=np.array([1.0, 100.0, 200.0]), a=np.log(1 + 19 * 0.98) / 200.0, b=1.0, d0=0.02)
    assert margin[0] > margin[1] > margin[2] and margin[2] == pytest.approx(0.0, abs=1e-9)


def test_start_of_life_sensors_match_the_real_fd001(fleet: dict[str, pd.DataFrame], real_train: pd.DataFrame) -> None:
    sim_start = fleet["train"][fleet["train"]["cycle"] <= 20]
    real_start = real_train[real_train["cycle"] <= 20]
    for sensor in ("s2", "s3", "s4", "s7", "s11", "s12", "s15", "s17", "s20", "s21"):
        spread = real_train[sensor].std()
        assert abs(sim_start[sensor].mean() - real_start[sensor].mean()) < 0.25 * spread


def test_seeded_reproducible() -> None:
    first, second = simulate_fleet(engines=4, seed=9), simulate_fleet(engines=4, seed=9)
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])
    assert not simulate_fleet(engines=4, seed=10)["train"].equals(first["train"])


def test_engine_run_streams_cycles_until_failure() -> None:
    run = EngineRun(rng=np.random.default_rng(3), start_cycle=100)
    life = run.life
    cycles = []
    while not run.failed:
        cycles.append(run.next_cycle())
    assert [c["cycle"] for c in cycles] == list(range(100, life + 1))
    assert run.remaining_cycles == 0
    assert set(cycles[0]) == {"cycle", "setting_1", "setting_2", "setting_3", *(f"s{i}" for i in range(1, 22))}
    assert cycles[-1]["s4"] > cycles[0]["s4"]  # hotter LPT outlet at failure
    with pytest.raises(RuntimeError, match="failed"):
        run.next_cycle()
