"""Training recipe of the recommender: evaluate, fit on every rating, register one version.

`mlapps train recommender [--dataset movielens-small|movielens-100k] [--algorithm svd]`
trains from a catalog dataset; the Django app's `train_recommender` command calls
`recommender_train` with the ratings in its database.  Both register `recommender`.

Evaluation before the final fit (figures stored in the model's metadata):
- rating: Surprise's k-fold protocol for the chosen algorithm (one fold when quick);
- fold-in: RMSE for users the model never saw, solved from their ratings;
- ranking: EASE + content blend on the per-user stratified split, next to popularity;
  EASE's l2 is chosen on a validation split carved out of the training part.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from common.datasets import frames_fingerprint, load_dataset
from common.recommender.build import frames_validate, recommender_build, recommender_model_build
from common.recommender.evaluation import (
    ease_l2_select,
    fold_in_evaluate,
    most_rated_ranking,
    ranking_evaluate,
    ranking_protocol,
    rating_kfold_evaluate,
    stratified_split,
)
from common.recommender.model import RankerParams
from common.recommender.rating import ALGORITHMS, DEFAULT_ALGORITHM, algorithm_get
from common.registry import ModelRegistry, ModelVersion
from common.training import Progress, TrainOptions, TrainResult

MODEL_NAME = "recommender"
DEFAULT_DATASET = "movielens-small"
DATASET_RATING_SCALES = {"movielens-small": (0.5, 5.0), "movielens-100k": (1.0, 5.0)}
APP_RATING_SCALE = (0.5, 5.0)
EASE_L2_CANDIDATES = (100.0, 300.0, 1000.0)


def ranker_params_default(*, n_users: int) -> RankerParams:
    """Starting parameters; l2 scales with the data (then chosen on validation unless quick)."""
    return RankerParams(ease_l2=300.0 if n_users < 800 else 500.0)


def recommender_train(
    *,
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    dataset: str,
    algorithm: str,
    registry: ModelRegistry,
    rating_scale: tuple[float, float],
    seed: int = 42,
    quick: bool = False,
    promote: bool = True,
    progress: Callable[[str], None] = lambda _m: None,
    extra_metadata: Mapping[str, Any] | None = None,
) -> tuple[ModelVersion, list[dict[str, Any]]]:
    """Evaluate, fit on every rating and register a new `recommender` version."""
    spec = algorithm_get(name=algorithm)
    ratings, movies = frames_validate(ratings=ratings, movies=movies)
    if ratings.empty:
        raise ValueError("there are no ratings to train on; load some first (load_movielens)")
    started = time.monotonic()
    n_users = int(ratings["user_id"].nunique())
    params = ranker_params_default(n_users=n_users)

    progress(f"rating model {spec.label}: {'one fold (quick)' if quick else '5-fold'} Surprise protocol")
    rating_metrics = rating_kfold_evaluate(ratings=ratings, algorithm=spec.name, rating_scale=rating_scale,
                                           seed=seed, quick=quick, max_folds=1 if quick else None, progress=progress)
    progress("fold-in: users unseen in training, solved from their ratings")
    fold_in_metrics = fold_in_evaluate(ratings=ratings, movies=movies, algorithm=spec.name,
                                       rating_scale=rating_scale, seed=seed, quick=quick)

    progress("ranking: per-user stratified 75/25 split")
    train_part, test_part = stratified_split(ratings=ratings, ratio=0.75, seed=seed)

    def build_ranker(*, ratings: pd.DataFrame, movies: pd.DataFrame, params: RankerParams) -> Any:
        return recommender_model_build(ratings=ratings, movies=movies, algorithm=None, params=params,
                                       rating_scale=rating_scale, seed=seed, with_similar=False)

    selection: list[dict[str, float]] = []
    if not quick:
        l2, selection = ease_l2_select(train=train_part, movies=movies, params=params,
                                       candidates=EASE_L2_CANDIDATES, build=build_ranker)
        params = dataclasses.replace(params, ease_l2=l2)
        progress(f"EASE l2={l2:g} chosen on validation: " + ", ".join(f"{r['ease_l2']:g}: {r['ndcg@10']:.3f}" for r in selection))
    ranker = build_ranker(ratings=train_part, movies=movies, params=params)
    ranking_metrics = ranking_evaluate(model=ranker, train=train_part, test=test_part)
    popularity_metrics = ranking_evaluate(model=ranker, train=train_part, test=test_part, score_users=most_rated_ranking)
    progress(f"ranking NDCG@10 {ranking_metrics['ndcg@10']:.3f} (popularity {popularity_metrics['ndcg@10']:.3f})")

    progress("final fit on every rating")
    artifact, arrays = recommender_build(ratings=ratings, movies=movies, algorithm=spec.name, params=params,
                                         rating_scale=rating_scale, seed=seed, quick=quick, progress=progress)
    metrics = {
        "rmse": rating_metrics["rmse"],
        "mae": rating_metrics["mae"],
        "rmse_fold_in": fold_in_metrics["rmse_fold_in"],
        "ndcg@10": ranking_metrics["ndcg@10"],
        "precision@10": ranking_metrics["precision@10"],
        "recall@10": ranking_metrics["recall@10"],
        "map@10": ranking_metrics["map@10"],
        "coverage@10": ranking_metrics["coverage"],
        "popularity_ndcg@10": popularity_metrics["ndcg@10"],
        "popularity_precision@10": popularity_metrics["precision@10"],
    }
    metadata = {
        "algorithm": spec.name,
        "algorithm_label": spec.label,
        "ranker": "EASE (implicit feedback) + content-based blend (genres, year)",
        "params": {"rating": dict(spec.params) if spec.export != "blend" else {"members": list(spec.members)},
                   "ranker": dataclasses.asdict(params), "seed": seed, "quick": quick},
        "metrics": metrics,
        "evaluation": {
            "rating": rating_metrics,
            "fold_in": fold_in_metrics,
            "ranking": {"protocol": ranking_protocol(), **ranking_metrics, "popularity": popularity_metrics,
                        "ease_l2_selection": selection},
        },
        "training_data": {**frames_fingerprint(dataset=dataset, frames={"ratings": ratings, "movies": movies}),
                          "users": n_users, "movies": int(len(movies)), "ratings": int(len(ratings))},
        "signature": {
            "inputs": {"user ratings": f"movie id -> stars in {rating_scale[0]:g}-{rating_scale[1]:g}",
                       "movie": "movie id (database id = MovieLens id for imported movies)",
                       "genre": "one of the model's genres"},
            "genres": list(artifact.space.genres),
            "rating_scale": list(rating_scale),
            "movies": int(len(movies)),
            "ease_movies": int(arrays["warm_items"].size),
        },
        "array_bytes": int(sum(a.nbytes for a in arrays.values())),
        "training_seconds": round(time.monotonic() - started, 1),
        **dict(extra_metadata or {}),
    }
    version = registry.save(name=MODEL_NAME, artifact=artifact, metadata=metadata, arrays=arrays, promote=promote)
    rows = [
        {"task": "rating", "metric": "RMSE", "value": rating_metrics["rmse"], "protocol": rating_metrics["protocol"]},
        {"task": "rating", "metric": "RMSE fold-in", "value": fold_in_metrics["rmse_fold_in"],
         "protocol": fold_in_metrics["protocol"]},
        {"task": "top-10", "metric": "NDCG@10", "value": ranking_metrics["ndcg@10"], "protocol": "stratified 75/25"},
        {"task": "top-10", "metric": "precision@10", "value": ranking_metrics["precision@10"], "protocol": "stratified 75/25"},
        {"task": "top-10", "metric": "NDCG@10 popularity", "value": popularity_metrics["ndcg@10"], "protocol": "stratified 75/25"},
    ]
    return version, rows


@dataclasses.dataclass(frozen=True)
class RecommenderRecipe:
    name: str = "recommender"
    description: str = ("MovieLens recommender: Surprise rating model + EASE top-N ranker + content similarity "
                        f"(algorithms: {', '.join(ALGORITHMS)})")
    models: tuple[str, ...] = (MODEL_NAME,)

    def __call__(self, *, options: TrainOptions, registry: ModelRegistry, progress: Progress) -> TrainResult:
        dataset = options.dataset or DEFAULT_DATASET
        if dataset not in DATASET_RATING_SCALES:
            raise ValueError(f"the recommender trains on {', '.join(DATASET_RATING_SCALES)}, not {dataset!r}")
        frames = load_dataset(dataset)
        ratings = frames["ratings"]
        max_users = options.extra.get("max_users")
        if max_users:
            # A lighter run for demos and tests: the first N users (by id) and all their ratings.
            keep = sorted(ratings["user_id"].unique())[: int(max_users)]
            ratings = ratings[ratings["user_id"].isin(keep)]
            dataset = f"{dataset} (first {int(max_users)} users)"
        version, rows = recommender_train(
            ratings=ratings, movies=frames["movies"], dataset=dataset,
            algorithm=options.algorithm or DEFAULT_ALGORITHM, registry=registry,
            rating_scale=DATASET_RATING_SCALES[options.dataset or DEFAULT_DATASET], seed=options.seed, quick=options.quick,
            promote=options.promote, progress=progress,
        )
        return TrainResult(versions=[version], metrics_rows=rows)


RECIPE = RecommenderRecipe()
