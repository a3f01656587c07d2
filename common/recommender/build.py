"""Build a `RecommenderModel` (artifact + arrays) from a ratings frame and a movies frame.

Frames: ratings(user_id, movie_id, rating[, timestamp]) and movies(movie_id, title, year,
genres).  The item universe is every movie in `movies` (sorted by id), rated or not.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from common.recommender.content import ContentSpace, content_features, genre_membership, genre_vocabulary_build
from common.recommender.model import RankerParams, RecommenderArtifact, RecommenderModel
from common.recommender.ranking import ease_fit, interactions_build, popularity_damped_mean, similar_items_build
from common.recommender.rating import rating_model_fit

REQUIRED_RATING_COLUMNS = ("user_id", "movie_id", "rating")
REQUIRED_MOVIE_COLUMNS = ("movie_id", "title", "year", "genres")


def frames_validate(*, ratings: pd.DataFrame, movies: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed copies of the two frames; raises ValueError naming what is wrong."""
    missing = [c for c in REQUIRED_RATING_COLUMNS if c not in ratings.columns]
    missing += [f"movies.{c}" for c in REQUIRED_MOVIE_COLUMNS if c not in movies.columns]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")
    movies = movies.astype({"movie_id": "int64"}).drop_duplicates("movie_id").sort_values("movie_id")
    ratings = ratings.astype({"user_id": "int64", "movie_id": "int64", "rating": "float64"})
    ratings = ratings.drop_duplicates(["user_id", "movie_id"], keep="last").reset_index(drop=True)
    unknown = ~ratings["movie_id"].isin(movies["movie_id"])
    if unknown.any():
        raise ValueError(f"{int(unknown.sum())} ratings name movies missing from the movie table")
    return ratings, movies.reset_index(drop=True)


def movie_years(movies: pd.DataFrame) -> list[float | None]:
    return [None if pd.isna(y) else float(y) for y in movies["year"].tolist()]


def recommender_build(
    *,
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    algorithm: str | None,
    params: RankerParams,
    rating_scale: tuple[float, float],
    seed: int,
    quick: bool = False,
    with_similar: bool = True,
    progress: Callable[[str], None] = lambda _message: None,
) -> tuple[RecommenderArtifact, dict[str, np.ndarray]]:
    """Fit every part: content space, popularity, EASE, similar movies and (optionally) the rating model.

    `with_similar=False` leaves the similar-movie lists empty (ranking evaluations need none).
    """
    ratings, movies = frames_validate(ratings=ratings, movies=movies)
    item_keys = movies["movie_id"].to_numpy(dtype=np.int64)
    n_items = item_keys.size
    item_index = np.searchsorted(item_keys, ratings["movie_id"].to_numpy())
    user_keys, user_index = np.unique(ratings["user_id"].to_numpy(), return_inverse=True)
    counts = np.bincount(item_index, minlength=n_items).astype(np.int32)
    sums = np.bincount(item_index, weights=ratings["rating"].to_numpy(), minlength=n_items)
    global_mean = float(ratings["rating"].mean()) if len(ratings) else float(np.mean(rating_scale))

    space = ContentSpace(genres=genre_vocabulary_build(genre_texts=movies["genres"].tolist()))
    features = content_features(space=space, genre_texts=movies["genres"].tolist(), years=movie_years(movies))
    popularity = popularity_damped_mean(counts=counts, sums=sums, global_mean=global_mean,
                                        damping=params.popularity_damping)
    # Most popular first; ties by more ratings, then by id.
    popularity_order = np.lexsort((np.arange(n_items), -counts, -popularity)).astype(np.int32)

    interactions = interactions_build(user_index=user_index, item_index=item_index,
                                      n_users=user_keys.size, n_items=n_items)
    warm_items = np.flatnonzero(counts >= params.min_item_ratings).astype(np.int32)
    warm_position = np.full(n_items, -1, dtype=np.int32)
    warm_position[warm_items] = np.arange(warm_items.size, dtype=np.int32)
    progress(f"EASE on {warm_items.size} of {n_items} movies (rated >= {params.min_item_ratings} times), "
             f"l2={params.ease_l2:g}")
    if warm_items.size:
        ease = ease_fit(interactions=interactions[:, warm_items], l2=params.ease_l2)
    else:
        ease = np.zeros((0, 0), dtype=np.float32)
    if with_similar:
        progress(f"similar movies: top {params.similar_k} of each movie")
        similar_index, similar_score = similar_items_build(
            interactions=interactions, content=features, item_counts=counts, k=params.similar_k,
            content_shrinkage=params.similar_content_shrinkage, co_shrinkage=params.similar_co_shrinkage,
            content_floor=params.similar_content_floor, candidate_exponent=params.similar_candidate_exponent,
        )
    else:
        similar_index = np.zeros((n_items, 0), dtype=np.int32)
        similar_score = np.zeros((n_items, 0), dtype=np.float32)
    arrays: dict[str, np.ndarray] = {
        "item_keys": item_keys,
        "item_counts": counts,
        "item_rating_sums": sums.astype(np.float64),
        "features": features,
        "genre_member": genre_membership(space=space, genre_texts=movies["genres"].tolist()),
        "popularity": popularity,
        "popularity_order": popularity_order,
        "warm_items": warm_items,
        "warm_position": warm_position,
        "ease_weights": ease,
        "similar_index": similar_index,
        "similar_score": similar_score,
    }
    predictor = None
    if algorithm is not None:
        progress(f"rating model: {algorithm} on {len(ratings)} ratings")
        fitted = rating_model_fit(algorithm=algorithm, ratings=ratings, item_keys=item_keys,
                                  rating_scale=rating_scale, seed=seed, quick=quick)
        predictor = fitted.predictor
        arrays.update(fitted.arrays)
    artifact = RecommenderArtifact(params=params, space=space, rating_scale=rating_scale, global_mean=global_mean,
                                   predictor=predictor, algorithm=algorithm)
    return artifact, arrays


def recommender_model_build(**kwargs: object) -> RecommenderModel:
    """`recommender_build` straight into an in-memory model (evaluation, tests)."""
    artifact, arrays = recommender_build(**kwargs)  # type: ignore[arg-type]
    return RecommenderModel(artifact=artifact, arrays=arrays)
