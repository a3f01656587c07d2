"""What the API and the pages ask: the database side of each recommender query.

Each function reads what the query needs (the user's current ratings, movies added since
training), calls one domain function of `common.recommender.model` and returns movies
from the database, so views only parse and render.
"""

from __future__ import annotations

import dataclasses

from common.recommender.model import (
    ExtraMovie,
    popular_movie_list,
    rating_estimate,
    recommendation_list,
    similar_movie_list,
)
from recommender_django.modelops.serving import recommender_service
from recommender_django.movies.models import Movie
from recommender_django.movies.selectors import movies_by_id, user_rating_map


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


def user_recommendations(*, user_id: int | None, k: int, genre: str | None = None) -> Recommendations:
    """Top-k for a user from their ratings right now (popular movies for anonymous users)."""
    service = recommender_service()
    model = service.model()
    extras = service.extra_movies(model)
    ratings = user_rating_map(user_id=user_id) if user_id is not None else {}
    found = recommendation_list(model=model, ratings=ratings, k=k, genre=genre, extra_movies=extras)
    wanted = {r.movie for r in found} | {m for r in found for m in r.because}
    movies = movies_by_id(movie_ids=wanted)
    items = [
        RecommendedMovie(movie=movies[r.movie], score=r.score, reason=r.reason,
                         because=[movies[m] for m in r.because if m in movies])
        for r in found if r.movie in movies  # a movie deleted since training is skipped
    ]
    source = "personal" if any(r.reason != "popular" for r in found) else "popular"
    return Recommendations(items=items, source=source, model_version=model.version, rated=len(ratings))


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
