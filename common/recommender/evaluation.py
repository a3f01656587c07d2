"""Evaluation protocols, so every figure the project quotes can be reproduced.

- Rating prediction: Surprise's published protocol (`rating_kfold_evaluate`): 5-fold
  `KFold(random_state=0)`, RMSE and MAE averaged over folds.
- Fold-in: a user-level holdout (`fold_in_evaluate`): the model never sees the held-out
  users; their factors are solved from part of their ratings, the rest is predicted.
- Top-N ranking (`ranking_evaluate`): per-user stratified 75/25 random split (seed 42),
  movies a user rated in training removed, full ranking over every movie, binary
  relevance (every held-out rating counts), NDCG/precision/recall/MAP at 10.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from common import evaluation as metrics
from common.recommender.model import RankerParams, RecommenderModel, recommendation_list
from common.recommender.rating import (
    UserRatings,
    algorithm_get,
    rating_model_fit,
    surprise_algorithm_create,
    surprise_dataset,
)


# --------------------------------------------------------------------------- rating: Surprise k-fold
def _blend_members(name: str) -> list[tuple[str, float]]:
    spec = algorithm_get(name=name)
    return list(spec.members) if spec.export == "blend" else [(spec.name, 1.0)]


def rating_kfold_predictions(
    *,
    ratings: pd.DataFrame,
    algorithms: Sequence[tuple[str, bool]],
    rating_scale: tuple[float, float],
    n_splits: int = 5,
    random_state: int = 0,
    seed: int | None = 0,
    quick: bool = False,
    max_folds: int | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> tuple[list[np.ndarray], dict[tuple[str, bool], list[np.ndarray]], dict[tuple[str, bool], float]]:
    """Per-fold true ratings and predictions of each (algorithm, library_defaults), same folds for all.

    Surprise's protocol: `KFold(n_splits, random_state)` over the ratings; each algorithm is
    fitted on the training part of a fold and predicts its test part.  Blends are combined
    from their members' predictions (see `rating_scores`).
    """
    from surprise.model_selection import KFold

    data = surprise_dataset(ratings=ratings, rating_scale=rating_scale)
    folds = list(KFold(n_splits=n_splits, random_state=random_state).split(data))[: max_folds or n_splits]
    truths: list[np.ndarray] = []
    predictions: dict[tuple[str, bool], list[np.ndarray]] = {key: [] for key in algorithms}
    seconds: dict[tuple[str, bool], float] = dict.fromkeys(algorithms, 0.0)
    for number, (trainset, testset) in enumerate(folds, start=1):
        truths.append(np.array([r for _, _, r in testset]))
        for name, library_defaults in algorithms:
            started = time.monotonic()
            algo = surprise_algorithm_create(name=name, seed=seed, library_defaults=library_defaults, quick=quick)
            algo.fit(trainset)
            predictions[(name, library_defaults)].append(np.array([p.est for p in algo.test(testset)]))
            seconds[(name, library_defaults)] += time.monotonic() - started
            fold_rmse = metrics.rmse(y_true=truths[-1], y_pred=predictions[(name, library_defaults)][-1])
            progress(f"{name}{' (library defaults)' if library_defaults else ''} fold {number}/{len(folds)}: "
                     f"RMSE {fold_rmse:.4f}")
    return truths, predictions, {k: v / len(folds) for k, v in seconds.items()}


def rating_scores(*, truths: Sequence[np.ndarray], predictions: Sequence[np.ndarray]) -> dict[str, float]:
    """Mean and spread over folds of RMSE, and mean MAE."""
    fold_rmse = [metrics.rmse(y_true=t, y_pred=p) for t, p in zip(truths, predictions, strict=True)]
    fold_mae = [metrics.mae(y_true=t, y_pred=p) for t, p in zip(truths, predictions, strict=True)]
    return {"rmse": float(np.mean(fold_rmse)), "rmse_std": float(np.std(fold_rmse)), "mae": float(np.mean(fold_mae)),
            "folds": len(fold_rmse)}


def rating_kfold_evaluate(
    *,
    ratings: pd.DataFrame,
    algorithm: str,
    rating_scale: tuple[float, float],
    n_splits: int = 5,
    random_state: int = 0,
    seed: int | None = 0,
    library_defaults: bool = False,
    quick: bool = False,
    max_folds: int | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """RMSE/MAE of `algorithm` with Surprise's `KFold(n_splits, random_state)` (a blend averages its members)."""
    members = _blend_members(algorithm)
    truths, predictions, seconds = rating_kfold_predictions(
        ratings=ratings, algorithms=[(m, library_defaults) for m, _ in members], rating_scale=rating_scale,
        n_splits=n_splits, random_state=random_state, seed=seed, quick=quick, max_folds=max_folds, progress=progress,
    )
    total = sum(w for _, w in members)
    blended = [sum(w * predictions[(m, library_defaults)][i] for m, w in members) / total for i in range(len(truths))]
    scores = rating_scores(truths=truths, predictions=blended)
    return {
        "protocol": f"surprise KFold(n_splits={n_splits}, random_state={random_state})"
        + (f", first {len(truths)} folds" if len(truths) < n_splits else ""),
        "algorithm": algorithm,
        "library_defaults": library_defaults,
        **scores,
        "seconds_per_fold": float(sum(seconds.values())),
    }


# --------------------------------------------------------------------------- rating: fold-in
def fold_in_evaluate(
    *,
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    algorithm: str,
    rating_scale: tuple[float, float],
    seed: int = 42,
    holdout_users: float = 0.2,
    quick: bool = False,
) -> dict[str, Any]:
    """Fold-in quality: train without 20% of the users, fold each in from 75% of their ratings.

    Reports the RMSE on the remaining 25% of those users' ratings, next to the RMSE of the
    same movies predicted by a model trained *with* those users' 75% (the trained path).
    """
    rng = np.random.default_rng(seed)
    users = np.sort(ratings["user_id"].unique())
    held = set(rng.choice(users, size=max(1, int(len(users) * holdout_users)), replace=False).tolist())
    item_keys = np.sort(movies["movie_id"].astype("int64").unique())
    known_part, query_part = stratified_split(ratings=ratings[ratings["user_id"].isin(held)], ratio=0.75, seed=seed)
    others = ratings[~ratings["user_id"].isin(held)]
    without = rating_model_fit(algorithm=algorithm, ratings=others, item_keys=item_keys,
                               rating_scale=rating_scale, seed=seed, quick=quick)
    with_known = rating_model_fit(algorithm=algorithm, ratings=pd.concat([others, known_part]), item_keys=item_keys,
                                  rating_scale=rating_scale, seed=seed, quick=quick)
    without.predictor.bind(without.arrays)
    with_known.predictor.bind(with_known.arrays)

    truth, folded, trained = [], [], []
    known_groups = dict(tuple(known_part.groupby("user_id")))
    for user, group in query_part.groupby("user_id"):
        own = known_groups.get(user, known_part.iloc[:0])
        index = np.searchsorted(item_keys, own["movie_id"].to_numpy())
        order = np.argsort(index)
        user_ratings = UserRatings(items=index[order].astype(np.int64), values=own["rating"].to_numpy()[order])
        items = np.searchsorted(item_keys, group["movie_id"].to_numpy()).astype(np.int64)
        truth.extend(group["rating"].tolist())
        folded.extend(without.predictor.estimate_many(user_key=None, ratings=user_ratings, items=items).tolist())
        trained.extend(with_known.predictor.estimate_many(user_key=int(user), ratings=user_ratings, items=items).tolist())
    return {
        "protocol": f"{len(held)} held-out users (seed {seed}); 75% of their ratings folded in, 25% predicted",
        "rmse_fold_in": metrics.rmse(y_true=truth, y_pred=folded),
        "rmse_trained": metrics.rmse(y_true=truth, y_pred=trained),
        "predictions": len(truth),
    }


# --------------------------------------------------------------------------- ranking
def stratified_split(*, ratings: pd.DataFrame, ratio: float = 0.75, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user random split: each user keeps round(ratio * n) of their ratings in train."""
    rng = np.random.default_rng(seed)
    shuffled = ratings.assign(_key=rng.random(len(ratings))).sort_values(["user_id", "_key"], kind="stable")
    position = shuffled.groupby("user_id").cumcount().to_numpy()
    size = shuffled.groupby("user_id")["movie_id"].transform("size").to_numpy()
    in_train = position < np.round(ratio * size)
    shuffled = shuffled.drop(columns="_key")
    return shuffled[in_train].reset_index(drop=True), shuffled[~in_train].reset_index(drop=True)


def ranking_evaluate(
    *,
    model: RecommenderModel,
    train: pd.DataFrame,
    test: pd.DataFrame,
    k: int = 10,
    score_users: Callable[[RecommenderModel, dict[int, float]], Sequence[int]] | None = None,
) -> dict[str, Any]:
    """Top-k metrics of `model` (built on `train`) against the held-out `test` ratings.

    By default the ranking is the served one (`recommendation_list`), called per user.
    """
    truth = test.groupby("user_id")["movie_id"].apply(set)
    history = {user: dict(zip(g["movie_id"].tolist(), g["rating"].tolist(), strict=True))
               for user, g in train.groupby("user_id")}
    recommended, relevant = [], []
    started = time.perf_counter()
    for user, items in truth.items():
        rated = history.get(user, {})
        if score_users is None:
            ranked = [r.movie for r in recommendation_list(model=model, ratings=rated, k=k, explain=False)]
        else:
            ranked = list(score_users(model, rated))
        recommended.append(ranked)
        relevant.append(items)
    elapsed = time.perf_counter() - started
    return {
        f"ndcg@{k}": metrics.ndcg_at_k(recommended=recommended, relevant=relevant, k=k),
        f"precision@{k}": metrics.precision_at_k(recommended=recommended, relevant=relevant, k=k),
        f"recall@{k}": metrics.recall_at_k(recommended=recommended, relevant=relevant, k=k),
        f"map@{k}": metrics.map_at_k(recommended=recommended, relevant=relevant, k=k),
        "coverage": metrics.catalog_coverage(recommended=recommended, n_items=model.n_items, k=k),
        "users": len(recommended),
        "ms_per_user": 1000.0 * elapsed / max(len(recommended), 1),
    }


def most_rated_ranking(model: RecommenderModel, rated: dict[int, float], k: int = 10) -> list[int]:
    """The classic popularity baseline: the most-rated movies the user has not rated."""
    from common.recommender.ranking import top_n

    exclude = model.index_of(list(rated))
    best = top_n(scores=np.asarray(model.item_counts, dtype=np.float64), k=k, exclude=exclude[exclude >= 0])
    return [int(model.item_keys[i]) for i in best]


def ranking_protocol() -> str:
    return ("per-user stratified 75/25 random split (seed 42); rated-in-training movies removed; "
            "full ranking over all movies; binary relevance; k=10")


def ease_l2_select(
    *, train: pd.DataFrame, movies: pd.DataFrame, params: RankerParams, candidates: Sequence[float],
    seed: int = 7, build: Callable[..., RecommenderModel],
) -> tuple[float, list[dict[str, float]]]:
    """Choose EASE's l2 on a validation split carved out of `train` only (no test data seen)."""
    inner_train, validation = stratified_split(ratings=train, ratio=0.8, seed=seed)
    rows = []
    for l2 in candidates:
        candidate = RankerParams(**{**params.__dict__, "ease_l2": float(l2)})
        model = build(ratings=inner_train, movies=movies, params=candidate)
        rows.append({"ease_l2": float(l2), "ndcg@10": ranking_evaluate(model=model, train=inner_train, test=validation)["ndcg@10"]})
    best = max(rows, key=lambda r: r["ndcg@10"])
    return best["ease_l2"], rows
