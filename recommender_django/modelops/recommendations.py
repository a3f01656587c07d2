"""What the API and the pages ask: the database side of each recommender query.

Each function reads what the query needs (the user's current ratings, movies added since
training), calls one domain function of `common.recommender.model` and returns movies
from the database, so views only parse and render.

Recommendations are cached per worker under a key naming everything they depend on:
the loaded model and catalogue version, the user's ratings version (count and newest
change, read with the movie table's stamps in one indexed query per request), k and the
genre.  A rating written or a movie added by any worker changes a version, so the next
request computes afresh.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable

from common.recommender.model import (
    ExtraMovie,
    popular_movie_list,
    rating_estimate,
    recommendation_list,
    similar_movie_list,
)
from recommender_django.modelops.serving import recommender_service
from recommender_django.movies.models import Movie
from recommender_django.movies.selectors import (
    UserRatingState,
    movies_by_id,
    user_rating_map,
    user_rating_snapshot,
    user_rating_state,
)


@dataclasses.dataclass(frozen=True)
class RecommendedMovie:
    movie: Movie
    score: float
    reason: str
    because: list[Movie]


@dataclasses.dataclass(frozen=True)
class Recommendations:
    items: list[RecommendedMovie]
    source: str  # "personal" or "popular"
    model_version: str
    rated: int
    # Names everything the answer depends on (model, catalogue, ratings, query): equal keys,
    # equal answers, so a rendering of it can be cached under it too.
    key: Hashable = None


@dataclasses.dataclass(frozen=True)
class SimilarResult:
    movie: Movie
    similarity: float


@dataclasses.dataclass(frozen=True)
class SimilarMovies:
    items: list[SimilarResult]
    model_version: str


@dataclasses.dataclass(frozen=True)
class RatingPrediction:
    estimate: float
    source: str
    model_version: str
    algorithm: str | None


def user_recommendations(
    *, user_id: int | None, k: int, genre: str | None = None, state: UserRatingState | None = None
) -> Recommendations:
    """Top-k for a user from their ratings right now (popular movies for anonymous users).

    `state` is the user's `user_rating_state` when the caller has read it already (the API
    does, to check who may see the answer); otherwise it is read here.
    """
    service = recommender_service()
    model = service.model()
    if user_id is not None and state is None:
        state = user_rating_state(user_id=user_id)
    catalogue = service.catalogue(model, stamp=state.catalogue_stamp if state is not None else None)
    ratings_version = state.ratings_version if state is not None else (0, None)
    key = (catalogue.version, user_id, ratings_version, k, genre)
    cached = service.results.get(key)
    if cached is not None:
        return cached
    ratings: dict[int, float] = {}
    if state is not None:
        # Ratings and their version from the same rows: a rating written since `state` was
        # read is computed with and cached under its own version, never under the old one.
        snapshot = user_rating_snapshot(user_id=state.user_id)
        ratings, key = snapshot.ratings, (catalogue.version, user_id, snapshot.ratings_version, k, genre)
    found = recommendation_list(model=model, ratings=ratings, k=k, genre=genre, extra_movies=catalogue.extras)
    movies = service.movies_by_id(movie_ids={r.movie for r in found} | {m for r in found for m in r.because})
    items = [
        RecommendedMovie(movie=movies[r.movie], score=r.score, reason=r.reason,
                         because=[movies[m] for m in r.because if m in movies])
        for r in found if r.movie in movies  # a movie deleted since training is skipped
    ]
    source = "personal" if any(r.reason != "popular" for r in found) else "popular"
    result = Recommendations(items=items, source=source, model_version=model.version, rated=len(ratings), key=key)
    service.results.put(key, result)
    return result


def popular_movies(*, k: int, genre: str | None = None, exclude_user_id: int | None = None) -> list[tuple[Movie, float]]:
    service = recommender_service()
    model = service.model()
    exclude = list(user_rating_map(user_id=exclude_user_id)) if exclude_user_id is not None else []
    found = popular_movie_list(model=model, k=k, genre=genre, exclude=exclude, extra_movies=service.extra_movies(model))
    movies = movies_by_id(movie_ids=[m.movie for m in found])
    return [(movies[m.movie], m.score) for m in found if m.movie in movies]


def similar_movies(*, movie: Movie, k: int) -> SimilarMovies:
    service = recommender_service()
    model = service.model()
    extras = service.extra_movies(model)
    target: int | ExtraMovie = movie.id
    if not model.knows(movie.id):
        target = ExtraMovie(key=movie.id, genres=movie.genres, year=movie.year)
    found = similar_movie_list(model=model, movie=target, k=k, extra_movies=extras)
    movies = movies_by_id(movie_ids=[s.movie for s in found])
    return SimilarMovies(
        items=[SimilarResult(movie=movies[s.movie], similarity=s.similarity) for s in found if s.movie in movies],
        model_version=model.version,
    )


def rating_prediction(*, user_id: int, movie_id: int) -> RatingPrediction:
    model = recommender_service().model()
    estimate = rating_estimate(model=model, user_key=user_id, ratings=user_rating_map(user_id=user_id), movie=movie_id)
    return RatingPrediction(estimate=estimate.value, source=estimate.source, model_version=model.version,
                            algorithm=model.artifact.algorithm)


def model_metadata() -> dict:
    """Metadata of the current version (algorithm, metrics, evaluation, training data)."""
    service = recommender_service()
    model = service.model()
    return dict(service.current.get().metadata) | {"version": model.version}
