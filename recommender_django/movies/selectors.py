"""Reads of movies and ratings (selectors), shaped for the API and the pages."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Avg, Count, Q, QuerySet

from common.recommender.content import genres_parse
from recommender_django.movies.models import ImportedRater, Movie, Rating

_GENRE_CACHE: dict[str, tuple[float, list[str]]] = {}
GENRE_CACHE_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class RatingStats:
    count: int
    mean: float | None


@dataclasses.dataclass(frozen=True)
class MoviePage:
    items: list[Movie]
    stats: dict[int, RatingStats]
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def genre_filter(*, genre: str) -> Q:
    """Exact genre match inside the '|'-separated list (no 'Drama' hit for 'Dramatic')."""
    return (Q(genres=genre) | Q(genres__startswith=f"{genre}|") | Q(genres__endswith=f"|{genre}")
            | Q(genres__contains=f"|{genre}|"))


def genre_list() -> list[str]:
    """Every genre in the catalogue, sorted (cached for a few seconds per process)."""
    cached = _GENRE_CACHE.get("all")
    if cached and time.monotonic() - cached[0] < GENRE_CACHE_SECONDS:
        return cached[1]
    found: set[str] = set()
    for text in Movie.objects.values_list("genres", flat=True).distinct():
        found.update(genres_parse(text=text))
    genres = sorted(found)
    _GENRE_CACHE["all"] = (time.monotonic(), genres)
    return genres


def genre_cache_clear() -> None:
    _GENRE_CACHE.clear()


def movie_queryset(*, query: str | None = None, genre: str | None = None) -> QuerySet[Movie]:
    movies = Movie.objects.all()
    query = (query or "").replace("\x00", "").strip()  # PostgreSQL refuses NUL in text
    if query:
        movies = movies.filter(title__icontains=query)
    if genre:
        movies = movies.filter(genre_filter(genre=genre))
    return movies


def movie_rating_stats(*, movie_ids: Iterable[int]) -> dict[int, RatingStats]:
    ids = list(movie_ids)
    rows = (Rating.objects.filter(movie_id__in=ids).values("movie_id")
            .annotate(count=Count("id"), mean=Avg("value")))
    stats = {row["movie_id"]: RatingStats(count=row["count"], mean=row["mean"]) for row in rows}
    return {movie_id: stats.get(movie_id, RatingStats(count=0, mean=None)) for movie_id in ids}


def movie_page(*, query: str | None, genre: str | None, page: int, page_size: int) -> MoviePage:
    movies = movie_queryset(query=query, genre=genre).order_by("title", "id")
    total = movies.count()
    items = list(movies[(page - 1) * page_size: page * page_size])
    return MoviePage(items=items, stats=movie_rating_stats(movie_ids=[m.id for m in items]),
                     page=page, page_size=page_size, total=total)


def movies_by_id(*, movie_ids: Iterable[int]) -> dict[int, Movie]:
    return Movie.objects.only("id", "title", "year", "genres").in_bulk(list(movie_ids))


def user_rating_map(*, user_id: int) -> dict[int, float]:
    """{movie id: stars} of every rating the user has now (the recommender's view of a user)."""
    return dict(Rating.objects.filter(user_id=user_id).values_list("movie_id", "value"))


@dataclasses.dataclass(frozen=True)
class UserRatingState:
    """Who a user is for the recommender, and a version of their ratings.

    `ratings_version` is (number of ratings, newest `updated_at`): every write stamps
    `updated_at` with the current time, so an insert or an update moves the newest stamp
    and a delete lowers the count.  Two moments with the same version hold the same
    ratings, whichever worker wrote them, so it can key cached results.
    """

    user_id: int
    public: bool  # an imported MovieLens rater: their ratings are public research data
    ratings_version: tuple[int, object]
    # The movie table's newest change and highest id, read in the same query: a movie added
    # or edited (admin) reaches cached answers at once (a deletion: at the next count check).
    catalogue_stamp: tuple[object, object] = (None, None)

    @property
    def rated(self) -> int:
        return self.ratings_version[0]


@dataclasses.dataclass(frozen=True)
class UserRatingSnapshot:
    ratings: dict[int, float]
    ratings_version: tuple[int, object]


@functools.cache
def _user_state_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    users, raters, ratings = get_user_model()._meta.db_table, ImportedRater._meta.db_table, Rating._meta.db_table
    movies = Movie._meta.db_table
    return (
        f"SELECT u.{quote('id')}, r.{quote('id')}, "
        f"(SELECT COUNT(*) FROM {quote(ratings)} WHERE {quote('user_id')} = u.{quote('id')}), "
        f"(SELECT MAX({quote('updated_at')}) FROM {quote(ratings)} WHERE {quote('user_id')} = u.{quote('id')}), "
        f"(SELECT MAX({quote('updated_at')}) FROM {quote(movies)}), (SELECT MAX({quote('id')}) FROM {quote(movies)}) "
        f"FROM {quote(users)} u LEFT JOIN {quote(raters)} r ON r.{quote('user_id')} = u.{quote('id')} "
        f"WHERE u.{quote('id')} = %(user_id)s"
    )


@functools.cache
def _driver_sql(vendor: str) -> str:
    """`_user_state_sql` in the driver's own placeholder style (SQLite: `:name`; psycopg: `%(name)s`)."""
    sql = _user_state_sql(vendor)
    return sql % {"user_id": ":user_id"} if vendor == "sqlite" else sql


def user_rating_state(*, user_id: int) -> UserRatingState | None:
    """The user's visibility and ratings version in one indexed query (None: no such user).

    Raw SQL on purpose: it runs on every recommendation request, where compiling the
    equivalent ORM query would cost ten times the query itself.  The count and the newest
    stamp come from the (user, updated_at) index alone, the movie stamps from two index ends.

    The statement goes straight to the DB-API connection, in the driver's placeholder style:
    Django's cursor wrapper (cursor object, placeholder rewriting, wrapper hooks) costs as much
    as the query.  What it does that matters is kept: the health check and (re)connection,
    thread and broken-transaction checks, and Django's database errors.  While queries are
    logged (DEBUG, `CaptureQueriesContext`) or an execute wrapper is installed, Django's
    cursor runs it, so it is seen there as any other query.
    """
    db = connections[DEFAULT_DB_ALIAS]
    params = {"user_id": user_id}
    if db.queries_logged or db.execute_wrappers:
        with db.cursor() as cursor:
            cursor.execute(_user_state_sql(db.vendor), params)
            row = cursor.fetchone()
    else:
        sql = _driver_sql(db.vendor)
        db.close_if_health_check_failed()
        db.ensure_connection()
        db.validate_thread_sharing()
        db.validate_no_broken_transaction()
        with db.wrap_database_errors:
            cursor = db.connection.cursor()
            try:
                cursor.execute(sql, params)
                row = cursor.fetchone()
            finally:
                cursor.close()
    if row is None:
        return None
    return UserRatingState(user_id=int(row[0]), public=row[1] is not None,
                           ratings_version=(int(row[2]), row[3]), catalogue_stamp=(row[4], row[5]))


def user_rating_snapshot(*, user_id: int) -> UserRatingSnapshot:
    """The user's ratings and their version, read together (one query), so a result computed
    from these ratings is cached under exactly their version even while the user rates."""
    rows = list(Rating.objects.filter(user_id=user_id).values_list("movie_id", "value", "updated_at"))
    newest = max((updated for _, _, updated in rows), default=None)
    # The same representation the raw query of `user_rating_state` returns (text on SQLite).
    newest = connection.ops.adapt_datetimefield_value(newest)
    return UserRatingSnapshot(ratings={movie: value for movie, value, _ in rows},
                              ratings_version=(len(rows), newest))


def user_ratings(*, user_id: int) -> QuerySet[Rating]:
    return Rating.objects.filter(user_id=user_id).select_related("movie").order_by("-updated_at", "-id")


def user_rating_of(*, user_id: int | None, movie_id: int) -> Rating | None:
    if user_id is None:
        return None
    return Rating.objects.filter(user_id=user_id, movie_id=movie_id).first()
