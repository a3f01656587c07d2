"""Request and response schemas (input and output kept apart)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Schema(BaseModel):
    """Plain pydantic models: every response is built explicitly, so none of ninja's ORM
    attribute resolution is needed (it costs several milliseconds on a long list)."""

RatingValue = Field(..., ge=0.5, le=5.0, multiple_of=0.5, description="stars, 0.5 to 5 in steps of 0.5")
Id = Field(..., ge=1, le=2**31 - 1)


class Problem(Schema):
    """RFC 9457 problem details (every 4xx/5xx answer)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[dict[str, str]] | None = None


class MovieBrief(Schema):
    id: int
    title: str
    year: int | None
    genres: list[str]


class MovieOut(MovieBrief):
    movielens_id: int | None
    rating_count: int
    rating_mean: float | None


class MovieDetailOut(MovieOut):
    your_rating: float | None = Field(None, description="the caller's rating (session or token), if any")


class MoviePageOut(Schema):
    items: list[MovieOut]
    page: int
    page_size: int
    total: int
    pages: int


class SimilarOut(Schema):
    movie: MovieBrief
    similarity: float


class SimilarListOut(Schema):
    movie_id: int
    model_version: str
    items: list[SimilarOut]


class RecommendationOut(Schema):
    movie: MovieBrief
    score: float
    reason: Literal["collaborative", "content", "popular"]
    because: list[MovieBrief] = Field(description="the user's rated movies that explain the recommendation")


class RecommendationListOut(Schema):
    user_id: int | None
    source: Literal["personal", "popular"]
    rated: int
    model_version: str
    items: list[RecommendationOut]


class PopularOut(Schema):
    movie: MovieBrief
    score: float = Field(description="damped (Bayesian) mean rating")


class RatingIn(Schema):
    movie_id: int = Id
    value: float = RatingValue


class RatingOut(Schema):
    movie: MovieBrief
    value: float
    created_at: str
    updated_at: str


class RatingPageOut(Schema):
    items: list[RatingOut]
    page: int
    page_size: int
    total: int
    pages: int


class PredictIn(Schema):
    user_id: int = Id
    movie_id: int = Id


class PredictOut(Schema):
    user_id: int
    movie_id: int
    estimate: float
    source: Literal["trained", "fold-in", "baseline"] = Field(
        description="trained: the user's trained parameters; fold-in: solved from their current ratings; "
        "baseline: the movie is newer than the model")
    algorithm: str | None
    model_version: str


class ModelOut(Schema):
    name: str
    version: str
    algorithm: str | None
    created: str | None
    metrics: dict[str, Any]
    evaluation: dict[str, Any]
    training_data: dict[str, Any]
    params: dict[str, Any]
