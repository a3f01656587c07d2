"""Import a MovieLens dataset from the catalogue into the database: idempotent and bulk.

Movies keep their MovieLens id as primary key; raters become users who cannot log in
(username `<dataset>-<id>`, unusable password).  Re-running adds only what is missing;
a database holds one MovieLens dataset at a time (`replace=True` swaps it).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from common.datasets import load_dataset
from recommender_django.movies.models import ImportedRater, Movie, Rating
from recommender_django.movies.selectors import genre_cache_clear

SUPPORTED_DATASETS = ("movielens-small", "movielens-100k")
BATCH_SIZE = 5000


class DatasetConflictError(RuntimeError):
    """The database already holds another MovieLens dataset."""


@dataclasses.dataclass
class ImportSummary:
    dataset: str
    movies_created: int = 0
    users_created: int = 0
    ratings_created: int = 0
    seconds: float = 0.0


def _batches(items: list, size: int = BATCH_SIZE):
    for start in range(0, len(items), size):
        yield items[start: start + size]


def movielens_import(
    *, dataset: str, replace: bool = False, progress: Callable[[str], None] = lambda _m: None,
    frames: dict[str, pd.DataFrame] | None = None,
) -> ImportSummary:
    """Load `dataset` (ratings + movies) into the database; returns what was created."""
    if dataset not in SUPPORTED_DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(SUPPORTED_DATASETS)}")
    started = time.monotonic()
    summary = ImportSummary(dataset=dataset)
    others = set(Movie.objects.exclude(source__in=[dataset, "admin"]).values_list("source", flat=True).distinct())
    if others and not replace:
        raise DatasetConflictError(
            f"the database already holds {', '.join(sorted(others))}; run with --replace to swap it for {dataset}"
        )
    if others:
        progress(f"removing {', '.join(sorted(others))} (replace)")
        with transaction.atomic():
            get_user_model().objects.filter(imported_rater__dataset__in=others).delete()
            Movie.objects.filter(source__in=others).delete()

    frames = frames or load_dataset(dataset)
    movies, ratings = frames["movies"], frames["ratings"]
    progress(f"{dataset}: {len(movies)} movies, {ratings['user_id'].nunique()} raters, {len(ratings)} ratings")
    now = timezone.now()

    with transaction.atomic():
        existing = set(Movie.objects.filter(movielens_id__isnull=False).values_list("movielens_id", flat=True))
        taken = set(Movie.objects.values_list("id", flat=True))
        new_movies = []
        for row in movies.itertuples(index=False):
            movielens_id = int(row.movie_id)
            if movielens_id in existing:
                continue
            year = None if pd.isna(row.year) else int(row.year)
            new_movies.append(Movie(
                id=movielens_id if movielens_id not in taken else None, movielens_id=movielens_id, source=dataset,
                title=str(row.title)[:300], year=year, genres=str(row.genres)[:300], created_at=now, updated_at=now,
            ))
        for number, batch in enumerate(_batches(new_movies), start=1):
            Movie.objects.bulk_create(batch)
            progress(f"movies: {min(number * BATCH_SIZE, len(new_movies))}/{len(new_movies)}")
        summary.movies_created = len(new_movies)
        _sequences_reset()

    user_model = get_user_model()
    with transaction.atomic():
        known = dict(ImportedRater.objects.filter(dataset=dataset).values_list("movielens_user_id", "user_id"))
        wanted = sorted(set(int(u) for u in ratings["user_id"].unique()) - set(known))
        unusable = make_password(None)
        prefix = dataset.replace("movielens-", "ml")
        users = [user_model(username=f"{prefix}-{u}", password=unusable, is_active=True) for u in wanted]
        for batch in _batches(users):
            user_model.objects.bulk_create(batch)
        created = dict(user_model.objects.filter(username__startswith=f"{prefix}-").values_list("username", "id"))
        raters = [ImportedRater(user_id=created[f"{prefix}-{u}"], dataset=dataset, movielens_user_id=u) for u in wanted]
        for batch in _batches(raters):
            ImportedRater.objects.bulk_create(batch)
        known.update({u: created[f"{prefix}-{u}"] for u in wanted})
        summary.users_created = len(wanted)
        progress(f"raters: {len(wanted)} created, {len(known) - len(wanted)} already there")

    movie_ids = dict(Movie.objects.filter(movielens_id__isnull=False).values_list("movielens_id", "id"))
    before = Rating.objects.count()
    stamp = connection.ops.adapt_datetimefield_value(now)
    rows = [
        (known[int(u)], movie_ids[int(m)], float(v), stamp, stamp)
        for u, m, v in zip(ratings["user_id"].tolist(), ratings["movie_id"].tolist(), ratings["rating"].tolist(), strict=True)
        if int(m) in movie_ids
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        sql = _rating_insert_sql()
        for number, batch in enumerate(_batches(rows, 20_000), start=1):
            cursor.executemany(sql, batch)
            progress(f"ratings: {min(number * 20_000, len(rows))}/{len(rows)}")
    summary.ratings_created = Rating.objects.count() - before
    summary.seconds = time.monotonic() - started
    genre_cache_clear()
    return summary


def _rating_insert_sql() -> str:
    """One multi-row-friendly INSERT that skips (user, movie) pairs already rated.

    Plain SQL instead of the ORM: building 100,000 model instances costs far more than
    inserting them.  `ON CONFLICT DO NOTHING` works on SQLite and PostgreSQL alike.
    """
    quote = connection.ops.quote_name
    fields = {f.name: f.column for f in Rating._meta.concrete_fields}
    columns = [fields[name] for name in ("user", "movie", "value", "created_at", "updated_at")]
    placeholders = ", ".join(["%s"] * len(columns))
    return (
        f"INSERT INTO {quote(Rating._meta.db_table)} ({', '.join(quote(c) for c in columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({quote(fields['user'])}, {quote(fields['movie'])}) DO NOTHING"
    )


def _sequences_reset() -> None:
    """After inserting explicit ids, move PostgreSQL's id sequence past them (SQLite needs nothing)."""
    statements = connection.ops.sequence_reset_sql(no_style(), [Movie])
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
