"""API endpoints: parse, call one query or service, render.  Errors are problem+json."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Hashable

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Path, Query, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import BaseModel, Field

from common.problems import PROBLEM_CONTENT_TYPE, field_errors_from_pydantic, problem_body, validation_problem
from common.recommender.cache import ResultCache
from common.recommender.model import MAX_K, SIMILAR_K
from common.registry import ModelUnavailableError
from recommender_django.api.auth import AUTH, requester
from recommender_django.api.schemas import (
    ModelOut,
    MovieBrief,
    MovieDetailOut,
    MovieOut,
    MoviePageOut,
    PopularOut,
    PredictIn,
    PredictOut,
    Problem,
    RatingIn,
    RatingOut,
    RatingPageOut,
    RecommendationListOut,
    SimilarListOut,
)
from recommender_django.handlers import FullChainRequired, cookieless_read, require_full_chain
from recommender_django.modelops.recommendations import (
    model_metadata,
    popular_movies,
    rating_prediction,
    similar_movies,
    user_recommendations,
)
from recommender_django.movies.models import Movie, Rating
from recommender_django.movies.selectors import (
    RatingStats,
    UserRatingState,
    genre_list,
    movie_page,
    movie_rating_stats,
    user_rating_of,
    user_rating_state,
    user_ratings,
)
from recommender_django.movies.services import RatingValueError, rating_delete, rating_upsert

logger = logging.getLogger("recommender_django.api")
MAX_PAGE_SIZE = 100
MAX_ID = 2**31 - 1
DEFAULT_K = 10
MAX_GENRE_LENGTH = 50

class ProblemAwareAPI(NinjaAPI):
    """Documents every 4xx/5xx answer as `application/problem+json`, the type they are sent with."""

    def get_openapi_schema(self, **kwargs: object):  # noqa: ANN201 (ninja's OpenAPISchema)
        schema = super().get_openapi_schema(**kwargs)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content")
                    if str(status)[:1] in ("4", "5") and content and "application/json" in content:
                        response["content"] = {PROBLEM_CONTENT_TYPE: content["application/json"]}
        return schema


api = ProblemAwareAPI(
    title="mlapps movie recommender",
    version="1.0.0",
    description=(
        "Movies, ratings and recommendations.  Rating endpoints need `Authorization: Bearer <token>` "
        "(`mlapps tokens create recommender NAME`) or a logged-in session with its CSRF token.  "
        "Every error is an RFC 9457 problem+json document naming the bad fields."
    ),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 413: Problem, 422: Problem, 503: Problem}


# --------------------------------------------------------------------------- errors
def _problem(status: int, detail: str | None = None, **extra: object) -> HttpResponse:
    return JsonResponse(problem_body(status=status, detail=detail, **extra), status=status,
                        content_type=PROBLEM_CONTENT_TYPE)


def field_problem(status: int, field: str, message: str) -> HttpResponse:
    return _problem(status, message, errors=[{"field": field, "message": message}])


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    cleaned = []
    for error in exc.errors:
        location = list(error.get("loc", ()))
        if location and location[0] in ("query", "path", "body", "header", "cookie", "form"):
            location = location[1:]
        if location and location[0] == "payload":
            location = location[1:]
        cleaned.append({**error, "loc": location})
    body = validation_problem(field_errors_from_pydantic(cleaned))
    return JsonResponse(body, status=422, content_type=PROBLEM_CONTENT_TYPE)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _problem(401, "authentication required: send 'Authorization: Bearer <token>' or log in")
    response.headers["WWW-Authenticate"] = 'Bearer realm="recommender"'
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _problem(exc.status_code, str(exc))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _problem(404, str(exc) or "not found")


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _problem(413, "request body too large")


@api.exception_handler(ModelUnavailableError)
def on_model_unavailable(request: HttpRequest, exc: ModelUnavailableError) -> HttpResponse:
    response = _problem(503, str(exc))
    response.headers["Retry-After"] = "30"
    return response


@api.exception_handler(DatabaseError)
def on_database_error(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    logger.exception("database error on %s", request.path)
    response = _problem(503, "the database is unavailable; try again shortly")
    response.headers["Retry-After"] = "5"
    return response


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unexpected error on %s", request.path)
    return _problem(500, "unexpected error; it has been logged")


# --------------------------------------------------------------------------- helpers
def brief(movie: Movie) -> MovieBrief:
    return MovieBrief(id=movie.id, title=movie.title, year=movie.year, genres=movie.genre_list)


def movie_out(movie: Movie, stats: RatingStats) -> MovieOut:
    return MovieOut(id=movie.id, title=movie.title, year=movie.year, genres=movie.genre_list,
                    movielens_id=movie.movielens_id, rating_count=stats.count,
                    rating_mean=round(stats.mean, 3) if stats.mean is not None else None)


def movie_or_404(movie_id: int, *, field: str = "movie_id") -> Movie:
    movie = Movie.objects.filter(pk=movie_id).first()
    if movie is None:
        raise HttpError(404, f"no movie with id {movie_id} ({field})")
    return movie


def genre_checked(genre: str | None) -> str | None:
    if genre is None or genre == "":
        return None
    known = genre_list()
    if genre not in known:
        raise ValidationError([{"loc": ("query", "genre"), "msg": f"unknown genre {genre!r}; choose from {', '.join(known)}"}])
    return genre


def user_visible_or_error(*, target_id: int, request: HttpRequest) -> UserRatingState:
    """The target user's rating state, if the caller may see their recommendations: MovieLens
    raters are public research data; anyone else only to themselves (token or session) and to staff."""
    target = user_rating_state(user_id=target_id)
    if target is None:
        raise HttpError(404, f"no user with id {target_id} (user_id)")
    if target.public:
        return target
    caller = requester(request)
    if caller is None:
        raise AuthenticationError()
    if caller.pk != target.user_id and not caller.is_staff:
        raise HttpError(403, f"user {target_id}'s recommendations are private (user_id)")
    return target


# Rendered answers by the key of what they render (which names every input): a repeated
# request is answered without building and serialising the schema again.
_RENDERED: ResultCache[bytes] = ResultCache(max_entries=2048)


def json_rendered_once(request: HttpRequest, *, key: Hashable, schema: Callable[[], BaseModel]) -> HttpResponse:
    """A 200 JSON answer of `schema()`, rendered the first time `key` is asked for only."""
    body = _RENDERED.get(key)
    if body is None:
        body = api.create_response(request, schema().model_dump(mode="json"), status=200).content
        _RENDERED.put(key, body)
    return HttpResponse(body, content_type=api.get_content_type())


# --------------------------------------------------------------------------- movies
@api.get("/movies", response={200: MoviePageOut, **ERRORS}, tags=["movies"], summary="Search the catalogue")
def movies_list(
    request: HttpRequest,
    q: str | None = Query(None, max_length=200, description="words in the title"),
    genre: str | None = Query(None, max_length=50),
    page: int = Query(1, ge=1, le=100_000),
    page_size: int = Query(20, ge=1, le=MAX_PAGE_SIZE),
) -> MoviePageOut:
    found = movie_page(query=q, genre=genre_checked(genre), page=page, page_size=page_size)
    return MoviePageOut(items=[movie_out(m, found.stats[m.id]) for m in found.items], page=found.page,
                        page_size=found.page_size, total=found.total, pages=found.pages)


@api.get("/genres", response={200: list[str]}, tags=["movies"], summary="Every genre in the catalogue")
def genres(request: HttpRequest) -> list[str]:
    return genre_list()


@api.get("/movies/{movie_id}", response={200: MovieDetailOut, **ERRORS}, tags=["movies"], summary="One movie")
def movie_detail(request: HttpRequest, movie_id: int = Path(..., ge=1, le=MAX_ID)) -> MovieDetailOut:
    movie = movie_or_404(movie_id)
    stats = movie_rating_stats(movie_ids=[movie.id])[movie.id]
    caller = requester(request)
    own = user_rating_of(user_id=caller.pk if caller else None, movie_id=movie.id)
    return MovieDetailOut(**movie_out(movie, stats).model_dump(), your_rating=own.value if own else None)


@api.get("/movies/{movie_id}/similar", response={200: SimilarListOut, **ERRORS}, tags=["recommendations"],
         summary="Movies like this one (collaborative + content similarity)")
def movie_similar(
    request: HttpRequest, movie_id: int = Path(..., ge=1, le=MAX_ID), k: int = Query(10, ge=1, le=SIMILAR_K)
) -> SimilarListOut:
    movie = movie_or_404(movie_id)
    found = similar_movies(movie=movie, k=k)
    return SimilarListOut(movie_id=movie.id, model_version=found.model_version,
                          items=[{"movie": brief(s.movie), "similarity": round(s.similarity, 4)} for s in found.items])


@api.get("/popular", response={200: list[PopularOut], **ERRORS}, tags=["recommendations"],
         summary="Popular movies by damped mean rating (what anonymous users see)")
def popular(request: HttpRequest, k: int = Query(10, ge=1, le=MAX_K), genre: str | None = Query(None, max_length=50)) -> list[PopularOut]:
    return [PopularOut(movie=brief(m), score=round(s, 4)) for m, s in popular_movies(k=k, genre=genre_checked(genre))]


# --------------------------------------------------------------------------- recommendations
@api.get("/users/{user_id}/recommendations", response={200: RecommendationListOut, **ERRORS},
         tags=["recommendations"],
         summary="Top-k movies for a user, from their ratings right now",
         description="MovieLens raters are public; other users see only their own (token or session).")
def recommendations(
    request: HttpRequest,
    user_id: int = Path(..., ge=1, le=MAX_ID),
    k: int = Query(DEFAULT_K, ge=1, le=MAX_K),
    genre: str | None = Query(None, max_length=MAX_GENRE_LENGTH),
) -> HttpResponse:
    target = user_visible_or_error(target_id=user_id, request=request)
    found = user_recommendations(user_id=target.user_id, k=k, genre=genre_checked(genre), state=target)
    return json_rendered_once(request, key=("recommendations", found.key), schema=lambda: RecommendationListOut(
        user_id=target.user_id, source=found.source, rated=found.rated, model_version=found.model_version,
        items=[{"movie": brief(r.movie), "score": round(r.score, 4), "reason": r.reason,
                "because": [brief(b) for b in r.because]} for r in found.items],
    ))


class RecommendationParams(BaseModel):
    """The parameters of `recommendations`: the types, bounds and defaults of its ninja signature."""

    user_id: int = Field(ge=1, le=MAX_ID)
    k: int = Field(DEFAULT_K, ge=1, le=MAX_K)
    genre: str | None = Field(None, max_length=MAX_GENRE_LENGTH)


_PLAIN_USER_ID = re.compile(r"[1-9][0-9]{0,9}")
_PLAIN_QUERY = re.compile(r"(?:k=([1-9][0-9]{0,2}))?")


def plain_recommendation_params(user_id: str, query: str) -> tuple[int, int, None] | None:
    """(user_id, k, genre) of the usual request, a plain decimal id and `?k=N` or no query, read
    without a QueryDict or a model; None for anything else (then `RecommendationParams` decides)."""
    if _PLAIN_USER_ID.fullmatch(user_id) is None or (found := _PLAIN_QUERY.fullmatch(query)) is None:
        return None
    target, k = int(user_id), int(found[1] or DEFAULT_K)
    if target > MAX_ID or k > MAX_K:
        return None
    return target, k, None


@functools.cache
def ninja_view(url_name: str) -> Callable[..., HttpResponseBase]:
    """ninja's own Django view for the API URL named `url_name` (method dispatch, parsing, errors)."""
    patterns, _app_name, _namespace = api.urls
    return next(p.callback for p in patterns if getattr(p, "name", None) == url_name)


@cookieless_read  # see handlers.py: a GET without cookies skips the session, auth, CSRF and messages middleware
@csrf_exempt  # as every ninja view: the API's session auth checks CSRF itself
def recommendations_route(request: HttpRequest, user_id: str) -> HttpResponseBase:
    """`/api/users/{user_id}/recommendations`, routed ahead of the other URLs (urls.py).

    The busiest answer of the API, so it skips ninja's per-request machinery (nested URL
    resolution, a parameter model per source, a throw-away response): a GET whose parameters
    `RecommendationParams` accepts calls the `recommendations` endpoint directly, its
    exceptions going to the API's handlers as under ninja.  Anything else (another method, a
    parameter out of range) goes to ninja's own view, so every error and the OpenAPI document
    stay exactly ninja's.  The endpoint has no `auth=` or throttle (it checks visibility itself).
    The usual query (`?k=N` or none) is read without a QueryDict or a model; a cookie-less GET
    comes through the short middleware chain (handlers.py), which answers only what the
    endpoint answers itself without the session's user.
    """
    if request.method == "GET":
        params = plain_recommendation_params(user_id, request.META.get("QUERY_STRING", ""))
        if params is None:
            try:  # the last value of each query parameter, unknown ones ignored: as ninja reads them
                checked = RecommendationParams.model_validate({**request.GET.dict(), "user_id": user_id})
                params = checked.user_id, checked.k, checked.genre
            except Exception:  # noqa: BLE001 - a value ninja refuses, or a query string Django refuses: ninja answers
                params = None
        if params is not None:
            target, k, genre = params
            try:
                return recommendations(request, user_id=target, k=k, genre=genre)
            except FullChainRequired:
                raise
            except Exception as exc:  # noqa: BLE001 - the API's exception handlers answer, as in ninja
                return api.on_exception(request, exc)
    require_full_chain(request)  # ninja's view is not for the short middleware chain
    return ninja_view("recommendations")(request, user_id=user_id)


@api.post("/ratings/predict", response={200: PredictOut, **ERRORS}, tags=["recommendations"],
          summary="Predicted stars of a movie for a user (Surprise model, folded in if they rated since training)")
def ratings_predict(request: HttpRequest, payload: PredictIn) -> PredictOut:
    target = user_visible_or_error(target_id=payload.user_id, request=request)
    movie = movie_or_404(payload.movie_id)
    prediction = rating_prediction(user_id=target.user_id, movie_id=movie.id)
    return PredictOut(user_id=target.user_id, movie_id=movie.id, estimate=round(prediction.estimate, 4),
                      source=prediction.source, algorithm=prediction.algorithm,
                      model_version=prediction.model_version)


# --------------------------------------------------------------------------- ratings
def rating_out(rating: Rating) -> RatingOut:
    return RatingOut(movie=brief(rating.movie), value=rating.value, created_at=rating.created_at.isoformat(),
                     updated_at=rating.updated_at.isoformat())


@api.post("/ratings", response={200: RatingOut, 201: RatingOut, **ERRORS}, auth=AUTH, tags=["ratings"],
          summary="Rate a movie (replaces your earlier rating of it)")
def ratings_create(request: HttpRequest, payload: RatingIn) -> Status:
    movie = movie_or_404(payload.movie_id)
    try:
        rating, created = rating_upsert(user=request.auth, movie=movie, value=payload.value)
    except RatingValueError as exc:
        raise ValidationError([{"loc": ("body", "payload", "value"), "msg": str(exc)}]) from exc
    return Status(201 if created else 200, rating_out(rating))


@api.delete("/ratings/{movie_id}", response={204: None, **ERRORS}, auth=AUTH, tags=["ratings"],
            summary="Remove your rating of a movie")
def ratings_delete(request: HttpRequest, movie_id: int = Path(..., ge=1, le=MAX_ID)) -> Status:
    if not rating_delete(user=request.auth, movie_id=movie_id):
        raise HttpError(404, f"you have not rated movie {movie_id} (movie_id)")
    return Status(204, None)


@api.get("/me/ratings", response={200: RatingPageOut, **ERRORS}, auth=AUTH, tags=["ratings"],
         summary="Your ratings, newest first")
def my_ratings(request: HttpRequest, page: int = Query(1, ge=1, le=100_000),
               page_size: int = Query(50, ge=1, le=MAX_PAGE_SIZE)) -> RatingPageOut:
    ratings = user_ratings(user_id=request.auth.pk)
    total = ratings.count()
    items = list(ratings[(page - 1) * page_size: page * page_size])
    return RatingPageOut(items=[rating_out(r) for r in items], page=page, page_size=page_size, total=total,
                         pages=max(1, -(-total // page_size)))


# --------------------------------------------------------------------------- model
@api.get("/model", response={200: ModelOut, **ERRORS}, tags=["model"],
         summary="The model being served: algorithm, quality figures and how they were measured")
def model_info(request: HttpRequest) -> ModelOut:
    meta = model_metadata()
    return ModelOut(name=str(meta.get("name", "recommender")), version=str(meta["version"]),
                    algorithm=meta.get("algorithm"), created=meta.get("created"), metrics=meta.get("metrics") or {},
                    evaluation=meta.get("evaluation") or {}, training_data=meta.get("training_data") or {},
                    params=meta.get("params") or {})
