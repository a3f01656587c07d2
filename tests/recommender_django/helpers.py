"""Helpers of the recommender's Django tests (importable, unlike conftest.py)."""

from __future__ import annotations

import os

import pandas as pd

from common.datasets import load_dataset

SLICE_USERS = 60
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def postgres_reachable() -> bool:
    import psycopg

    try:
        with psycopg.connect(postgres_url(), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def movielens_slice() -> dict[str, pd.DataFrame]:
    """The first 60 raters of ml-latest-small, the movies they rated and 200 nobody in the slice rated."""
    frames = load_dataset("movielens-small")
    ratings = frames["ratings"][frames["ratings"]["user_id"] <= SLICE_USERS].reset_index(drop=True)
    movies = frames["movies"]
    rated = movies["movie_id"].isin(ratings["movie_id"])
    movies = pd.concat([movies[rated], movies[~rated].sample(200, random_state=0)]).sort_values("movie_id")
    return {"ratings": ratings, "movies": movies.reset_index(drop=True)}


def slice_load(frames: dict[str, pd.DataFrame]) -> None:
    """Import the slice into the database (idempotent: only what is missing is added)."""
    from recommender_django.movies.importing import movielens_import

    movielens_import(dataset="movielens-small", frames=frames)
