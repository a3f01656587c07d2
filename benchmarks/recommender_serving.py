"""Recommender serving speed and memory; prints tables, writes reports/recommender_serving.json.

In-process, on ml-latest-small (671 users, 9,066 movies), with the model loaded from the
registry (memory-mapped arrays), one thread:
- top-10 for one user from their ratings (EASE + content, with and without explanations),
  similar movies, popular movies, rating estimates (trained and fold-in);
- next to the naive way: Surprise's `predict` for every movie the user has not rated.

Then the Django app under gunicorn (production settings, N workers) on a fresh SQLite
database with ml-latest-small loaded: HTTP latency of the recommendations endpoint, RSS and
PSS per worker (the .npy arrays are file mappings shared by every worker), and how long the
workers take to serve a newly promoted version without a restart.  Server CPU per request
(from /proc, all workers) of `/healthz`, of a repeated user's top-10 (answered from the
worker's cache after one indexed query) and of every user once (computed), in one run,
so their ratios hold on a busy machine.

    python benchmarks/recommender_serving.py [--workers 2] [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

from common.compare.servers import cpu_seconds  # noqa: E402
from common.datasets import load_dataset  # noqa: E402
from common.recommender.build import recommender_build  # noqa: E402
from common.recommender.model import (  # noqa: E402
    RankerParams,
    RecommenderModel,
    popular_movie_list,
    rating_estimate,
    recommendation_list,
    similar_movie_list,
)
from common.recommender.rating import surprise_algorithm_create, surprise_dataset  # noqa: E402
from common.registry import ModelRegistry  # noqa: E402
from common.training import format_table  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "reports" / "recommender_serving.json"
STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[serving {time.monotonic() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def timings(values: list[float]) -> dict[str, float]:
    ms = np.array(values) * 1000.0
    return {"median_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90)),
            "p99_ms": float(np.percentile(ms, 99)), "calls": len(values)}


def timed(function, repeat: int = 5) -> float:  # noqa: ANN001
    """Best of `repeat` calls: the cost of the call itself, without the scheduler's interruptions
    (the benchmark machine is shared; a single call's time includes whatever else ran)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


# --------------------------------------------------------------------------- in-process
def in_process(*, store: Path) -> tuple[list[dict], dict]:
    frames = load_dataset("movielens-small")
    ratings, movies = frames["ratings"], frames["movies"]
    log("building the model (svd, quick) on all of ml-latest-small")
    artifact, arrays = recommender_build(ratings=ratings, movies=movies, algorithm="svd", params=RankerParams(),
                                         rating_scale=(0.5, 5.0), seed=0, quick=True, progress=log)
    registry = ModelRegistry(store)
    registry.save(name="recommender", artifact=artifact, arrays=arrays,
                  metadata={"algorithm": "svd", "metrics": {}, "note": "serving benchmark", "training_data": {
                      "dataset": "movielens-small", "rows": {"ratings": len(ratings)}}})
    model = RecommenderModel.from_loaded(registry.load("recommender"))
    users = {int(u): dict(zip(g["movie_id"].astype(int), g["rating"].astype(float), strict=True))
             for u, g in ratings.groupby("user_id")}
    log(f"timing {len(users)} users, {model.n_items} movies")
    for rated in list(users.values())[:20]:  # warm the page cache and numpy
        recommendation_list(model=model, ratings=rated, k=10)
    plain = [timed(lambda r=rated: recommendation_list(model=model, ratings=r, k=10, explain=False)) for rated in users.values()]
    explained = [timed(lambda r=rated: recommendation_list(model=model, ratings=r, k=10)) for rated in users.values()]
    keys = model.item_keys[:: max(1, model.n_items // 2000)]
    similar = [timed(lambda m=int(m): similar_movie_list(model=model, movie=m, k=10)) for m in keys]
    popular = [timed(lambda: popular_movie_list(model=model, k=10, genre="Comedy")) for _ in range(300)]
    trained = [timed(lambda u=u, r=r: rating_estimate(model=model, user_key=u, ratings=r, movie=1))
               for u, r in users.items()]
    folded = [timed(lambda r=r: rating_estimate(model=model, user_key=None, ratings=r, movie=1)) for r in users.values()]

    log("the naive way: Surprise SVD.predict for every unrated movie (40 users)")
    trainset = surprise_dataset(ratings=ratings, rating_scale=(0.5, 5.0)).build_full_trainset()
    svd = surprise_algorithm_create(name="svd", seed=0, quick=True).fit(trainset)
    all_movies = movies["movie_id"].astype(int).tolist()

    def naive(user: int) -> list[int]:
        seen = users[user]
        estimates = [(svd.predict(user, m).est, m) for m in all_movies if m not in seen]
        return [m for _, m in sorted(estimates, reverse=True)[:10]]

    naive_times = [timed(lambda u=u: naive(u), repeat=1) for u in list(users)[:40]]
    rows = [
        {"query": "top-10 for a user (EASE + content, fold-in)", **timings(plain)},
        {"query": "top-10 with 'because you rated' explanations", **timings(explained)},
        {"query": "similar movies (k=10)", **timings(similar)},
        {"query": "popular movies in a genre (k=10)", **timings(popular)},
        {"query": "rating estimate, trained user", **timings(trained)},
        {"query": "rating estimate, fold-in from ratings", **timings(folded)},
        {"query": "naive: Surprise predict for every unrated movie", **timings(naive_times)},
    ]
    sizes = {name: int(a.nbytes) for name, a in arrays.items()}
    facts = {"movies": model.n_items, "users": len(users), "ease_movies": int(model.warm_items.size),
             "array_bytes": int(sum(sizes.values())), "largest_arrays": dict(sorted(sizes.items(), key=lambda kv: -kv[1])[:5]),
             "speedup_top10_vs_naive": float(np.median(naive_times) / np.median(plain))}
    return rows, facts


# --------------------------------------------------------------------------- gunicorn
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def memory_of(pid: int, model_dir: Path) -> dict[str, float]:
    """RSS and PSS (proportional: shared pages divided among sharers) of a process, in MB,
    and how much of its RSS is the model's memory-mapped .npy files."""
    rollup = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value, *_ = line.split()
        rollup[key.rstrip(":")] = int(value) / 1024.0
    mapped = 0.0
    current = None
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and len(parts) >= 5:
            current = parts[5] if len(parts) >= 6 else None
        elif parts and parts[0] == "Rss:" and current and str(model_dir) in current and current.endswith(".npy"):
            mapped += int(parts[1]) / 1024.0
    return {"rss_mb": rollup.get("Rss", 0.0), "pss_mb": rollup.get("Pss", 0.0),
            "private_mb": rollup.get("Private_Clean", 0.0) + rollup.get("Private_Dirty", 0.0),
            "model_npy_rss_mb": mapped}


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def server_cpu_per_request(*, pids: list[int], urls: list[str]) -> float:
    """Milliseconds of server CPU (every worker) per request, over `urls` fetched in turn."""
    before = cpu_seconds(pids)
    for url in urls:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
    return (cpu_seconds(pids) - before) / len(urls) * 1000.0


def under_gunicorn(*, root: Path, store: Path, workers: int, requests: int) -> tuple[list[dict], dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLAPPS_", "DJANGO_")) and k != "DATABASE_URL"}
    env.update(MLAPPS_MODE="production", MLAPPS_SECRET_KEY=secrets.token_urlsafe(48), MLAPPS_HTTPS="0",
               MLAPPS_VAR_DIR=str(root / "var"), MLAPPS_MODEL_STORE_DIR=str(store), MLAPPS_WORKERS=str(workers),
               MLAPPS_ACCESS_LOG="", DJANGO_SETTINGS_MODULE="recommender_django.settings.production",
               MLAPPS_DATA_MIRROR=os.environ.get("MLAPPS_DATA_MIRROR", ""))
    django = [sys.executable, "-m", "django"]
    log("preparing the database: migrate + load_movielens (ml-latest-small)")
    subprocess.run([*django, "migrate", "--noinput"], env=env, check=True, capture_output=True)
    started = time.monotonic()
    subprocess.run([*django, "load_movielens"], env=env, check=True, capture_output=True)
    load_seconds = time.monotonic() - started
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_file = open(root / "gunicorn.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:recommender_django.gunicorn_conf",
                                "--bind", f"127.0.0.1:{port}", "recommender_django.wsgi:application"],
                               env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if get_json(base + "/readyz")["status"] == "ready":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"gunicorn did not become ready; see {root / 'gunicorn.log'}")
            time.sleep(0.3)
        log(f"gunicorn ready with {workers} workers; {requests} requests")
        latencies, per_worker = [], {}
        for number in range(requests):
            user = 1 + number % 671
            begun = time.perf_counter()
            body = get_json(f"{base}/api/users/{user}/recommendations?k=10")
            latencies.append(time.perf_counter() - begun)
            assert len(body["items"]) == 10
        for number in range(50):
            get_json(f"{base}/api/movies/{[1, 260, 2571, 296, 318][number % 5]}/similar?k=10")
        log("server CPU per request: /healthz, a repeated user (cached), every user once (computed)")
        pids = [process.pid, *children_of(process.pid)]
        repeat = max(requests, 500)
        cpu_rows = []
        for _ in range(3):  # interleaved rounds; medians reported
            cpu_rows.append({
                "healthz": server_cpu_per_request(pids=pids, urls=[f"{base}/healthz"] * repeat),
                "cached": server_cpu_per_request(pids=pids, urls=[f"{base}/api/users/1/recommendations?k=10"] * repeat),
            })
        computed = server_cpu_per_request(pids=pids, urls=[f"{base}/api/users/{u}/recommendations?k=25&genre=Drama"
                                                           for u in range(1, 672)])
        cpu_ms = {name: float(np.median([row[name] for row in cpu_rows])) for name in ("healthz", "cached")}
        cpu_ms["computed"] = computed
        model_dir = store / "recommender"
        master = memory_of(process.pid, model_dir)
        for worker in children_of(process.pid):
            per_worker[worker] = memory_of(worker, model_dir)

        log("promoting a new version while serving")
        registry = ModelRegistry(store)
        loaded = registry.load("recommender")
        new = registry.save(name="recommender", artifact=loaded.artifact, arrays=dict(loaded.arrays),
                            metadata={**loaded.metadata, "note": "promoted during the benchmark"}, promote=False)
        registry.promote("recommender", new.version)
        promoted_at = time.monotonic()
        seen_new = 0
        while seen_new < 4 * workers:  # several answers in a row from the new version
            seen_new = seen_new + 1 if get_json(base + "/api/model")["version"] == new.version else 0
            if time.monotonic() - promoted_at > 30:
                raise RuntimeError("workers did not pick up the promoted version")
        switch_seconds = time.monotonic() - promoted_at
    finally:
        process.terminate()
        process.wait(timeout=20)
        log_file.close()
    rows = [{"process": "master", **master}] + [{"process": f"worker {pid}", **m} for pid, m in per_worker.items()]
    http = {"recommendations_http": timings(latencies), "load_movielens_seconds": load_seconds,
            "hot_reload_seconds": switch_seconds, "workers": workers, "server_cpu_ms_per_request": cpu_ms}
    return rows, http


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="recommender-serving-"))
    try:
        store = root / "models"
        speed, facts = in_process(store=store)
        memory, http = under_gunicorn(root=root, store=store, workers=args.workers, requests=args.requests)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print("\nin-process, one thread, ml-latest-small (model loaded from the registry, arrays memory-mapped);\n"
          "per call: best of 5 repeats, then median/p90/p99 over users (movies) - the naive way: one call each")
    print(format_table(speed))
    print(f"top-10 from precomputed arrays is {facts['speedup_top10_vs_naive']:.0f}x faster than Surprise predict "
          f"for every unrated movie (medians, same run); arrays: {facts['array_bytes'] / 2**20:.0f} MB, "
          f"EASE over {facts['ease_movies']} of {facts['movies']} movies")
    print(f"\ngunicorn, {http['workers']} sync workers, production settings, SQLite: memory per process (MB)")
    print(format_table(memory, formats={k: (lambda v: f"{v:.1f}") for k in ("rss_mb", "pss_mb", "private_mb", "model_npy_rss_mb")}))
    latency = http["recommendations_http"]
    print(f"GET /api/users/<id>/recommendations?k=10 over HTTP: median {latency['median_ms']:.1f} ms, "
          f"p90 {latency['p90_ms']:.1f} ms ({latency['calls']} sequential requests)")
    cpu = http["server_cpu_ms_per_request"]
    print(f"server CPU per request (all workers, same run): /healthz {cpu['healthz']:.2f} ms, "
          f"a repeated user's top-10 {cpu['cached']:.2f} ms ({cpu['cached'] / cpu['healthz']:.2f}x /healthz), "
          f"each user once (computed, k=25, Drama) {cpu['computed']:.2f} ms")
    print(f"load_movielens (ml-latest-small into SQLite): {http['load_movielens_seconds']:.1f} s; "
          f"workers served a newly promoted version after {http['hot_reload_seconds']:.2f} s, no restart")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({"in_process": speed, "facts": facts, "memory": memory, "http": http,
                                  "seconds": time.monotonic() - STARTED}, indent=2))
    print(f"\nwrote {REPORT}")
    return 0 if speed[0]["median_ms"] <= 1.0 else 1  # the target: top-N median <= 1 ms


if __name__ == "__main__":
    sys.exit(main())
