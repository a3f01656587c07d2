"""Failure-risk speed: the compiled single-reading path vs the scikit-learn pipelines, in one process and run.

Trains a quick maintenance model in a temporary store (or uses `--store`), then measures in-process,
one reading at a time (median and p99 in microseconds):
- the served path: `failure_predict` on the compiled trees, with explanations (the API default) and without;
- the API's domain work: pydantic validation of the JSON body + served path + JSON encoding of the answer;
- the same answers from the scikit-learn pipelines (what the endpoint did before), with and without explanations;
- once: building the scorer (importing numba and compiling the walk, as the app factory does) and 2,000 readings
  in one compiled call;
and checks that compiled probabilities equal the pipelines' on 2,000 readings.  Writes reports/maintenance_latency.json.

    python benchmarks/maintenance_latency.py [--store models] [--calls 3000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from common.datasets.ai4i_sim import simulate_ai4i  # noqa: E402
from common.maintenance import prediction  # noqa: E402
from common.maintenance.compiled import FAILURE_OUTPUTS, failure_scorer  # noqa: E402
from common.maintenance.features import READING_COLUMNS, physics_features  # noqa: E402
from common.maintenance.schemas import ReadingIn  # noqa: E402
from common.maintenance.training import FAILURE_MODEL  # noqa: E402
from benchmarks.timing import call_timings, checks_report, timing_summary  # noqa: E402
from common.registry import ModelRegistry  # noqa: E402
from common.training import TrainOptions, format_table, run_training  # noqa: E402

REPORT = Path(__file__).resolve().parents[1] / "reports" / "maintenance_latency.json"
# The body `mlapps compare` sends to POST /api/v1/predict/failure.
COMPARE_READING = {"product_type": "L", "air_temperature_k": 300.1, "process_temperature_k": 310.2,
                   "rotational_speed_rpm": 1500.0, "torque_nm": 40.0, "tool_wear_min": 100.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="model store holding a trained `maintenance-failure` (default: train a quick one)")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--pipeline-calls", type=int, default=100)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        registry = ModelRegistry(args.store or tmp)
        if registry.current_version(FAILURE_MODEL) is None:
            print("training a quick maintenance model...", file=sys.stderr, flush=True)
            run_training(scenario="maintenance", options=TrainOptions(quick=True), registry=registry, quiet=True)
        loaded = registry.load(FAILURE_MODEL)
        numba_imported_before = "numba" in sys.modules
        started = time.perf_counter()
        scorer = failure_scorer(loaded=loaded)  # numba import + compilation + warm-up, once per process
        build_seconds = time.perf_counter() - started
        if scorer is None:
            print(f"{loaded.ref} cannot be compiled (not a tree ensemble)", file=sys.stderr)
            return 1

        frame = simulate_ai4i(rows=2000, seed=5)
        expected = loaded.artifact.predict_proba_frame(frame)[list(FAILURE_OUTPUTS)].to_numpy()
        batch = physics_features(readings=frame).to_numpy()
        started = time.perf_counter()
        compiled = scorer.trees.predict(batch)
        batch_ms = (time.perf_counter() - started) * 1e3
        max_difference = float(np.max(np.abs(compiled - expected)))

        bodies = [COMPARE_READING, *frame[list(READING_COLUMNS)].head(49).to_dict("records")]
        readings = [[ReadingIn(**body)] for body in bodies]

        def served(batch: list[ReadingIn]) -> Any:
            return prediction.failure_predict(loaded=loaded, readings=batch)

        def served_plain(batch: list[ReadingIn]) -> Any:
            return prediction.failure_predict(loaded=loaded, readings=batch, explain=False)

        def api_work(body: dict[str, Any]) -> bytes:
            return served([ReadingIn.model_validate(body)])[0].model_dump_json().encode()

        def pipelines(batch: list[ReadingIn]) -> Any:
            return prediction._failure_answers_pipelines(loaded=loaded, readings=batch, explain=True)

        def pipelines_plain(batch: list[ReadingIn]) -> Any:
            return prediction._failure_answers_pipelines(loaded=loaded, readings=batch, explain=False)

        same_answers = all([p.model_dump() for p in served(r)] == pipelines(r) for r in readings)
        for batch in readings * 4:  # warm-up
            served(batch)
        rows = [
            timing_summary("compiled: one reading, with explanations (API default)", call_timings(served, readings, args.calls)),
            timing_summary("compiled: one reading, no explanations", call_timings(served_plain, readings, args.calls)),
            timing_summary("API domain work: validate JSON + compiled + encode", call_timings(api_work, bodies, args.calls)),
            timing_summary("scikit-learn pipelines: one reading, with explanations",
                     call_timings(pipelines, readings, args.pipeline_calls)),
            timing_summary("scikit-learn pipelines: one reading, no explanations",
                     call_timings(pipelines_plain, readings, args.pipeline_calls)),
        ]
        # Each path against the pipelines doing the same work (with / without explanations).
        for row, reference in zip(rows, (rows[3], rows[4], rows[3], rows[3], rows[4]), strict=True):
            row["vs_pipelines"] = reference["median_us"] / row["median_us"]

    trees = scorer.trees
    print(f"\nmodel {loaded.ref}: {trees.n_trees} trees, {trees.n_nodes:,} nodes; compiled vs pipelines on 2,000 "
          f"readings: max |probability difference| = {max_difference:.1e}; same answers on {len(readings)} readings: "
          f"{same_answers}\nscorer build (numba import{' (already imported)' if numba_imported_before else ''} + "
          f"compilation + warm-up): {build_seconds:.2f} s; 2,000 readings in one compiled call: {batch_ms:,.1f} ms\n")
    print(format_table(rows, formats={"median_us": lambda v: f"{v:,.1f}", "p99_us": lambda v: f"{v:,.1f}",
                                      "vs_pipelines": lambda v: f"{v:,.0f}x"}))
    checks = {
        "compiled probabilities equal the pipelines' (bit for bit)": max_difference == 0.0,
        "API answers unchanged": same_answers,
        "compiled path with explanations >= 20x faster than the pipelines": rows[0]["vs_pipelines"] >= 20,
        "compiled path without explanations >= 20x faster than the pipelines": rows[1]["vs_pipelines"] >= 20,
    }
    return checks_report(path=REPORT, checks=checks, document={
        "model": loaded.ref, "trees": trees.n_trees, "nodes": trees.n_nodes,
        "max_probability_difference": max_difference, "scorer_build_seconds": build_seconds,
        "batch_2000_ms": batch_ms, "single": rows})


if __name__ == "__main__":
    sys.exit(main())
