"""Shared data for the recommender's domain tests: a slice of the embedded ml-latest-small."""

from __future__ import annotations

import pandas as pd
import pytest

from common.datasets import load_dataset
from common.recommender.build import recommender_model_build
from common.recommender.model import RankerParams, RecommenderModel

SUBSET_USERS = 120


@pytest.fixture(scope="session")
def movielens_small() -> dict[str, pd.DataFrame]:
    return load_dataset("movielens-small")


@pytest.fixture(scope="session")
def subset(movielens_small: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The first 120 users' ratings, the movies they rated plus 300 nobody in the slice rated."""
    ratings = movielens_small["ratings"]
    ratings = ratings[ratings["user_id"] <= SUBSET_USERS].reset_index(drop=True)
    movies = movielens_small["movies"]
    rated = movies["movie_id"].isin(ratings["movie_id"])
    unrated = movies[~rated].sample(300, random_state=0)
    return {"ratings": ratings, "movies": pd.concat([movies[rated], unrated]).sort_values("movie_id").reset_index(drop=True)}


@pytest.fixture(scope="session")
def subset_model(subset: dict[str, pd.DataFrame]) -> RecommenderModel:
    """Ranker + quick SVD on the slice, built once per session."""
    return recommender_model_build(ratings=subset["ratings"], movies=subset["movies"], algorithm="svd",
                                   params=RankerParams(ease_l2=100.0), rating_scale=(0.5, 5.0), seed=0, quick=True)


@pytest.fixture(scope="session")
def ratings_of(subset: dict[str, pd.DataFrame]):  # noqa: ANN201 (a small factory)
    """{movie: stars} of a user of the slice."""

    def lookup(user: int) -> dict[int, float]:
        rows = subset["ratings"][subset["ratings"]["user_id"] == user]
        return dict(zip(rows["movie_id"].astype(int), rows["rating"].astype(float), strict=True))

    return lookup
