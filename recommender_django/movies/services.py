"""Writes to movies and ratings (HackSoft style: services write, selectors read)."""

from __future__ import annotations

import math

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from recommender_django.movies.models import RATING_MAX, RATING_MIN, Movie, Rating


class RatingValueError(ValueError):
    """Stars outside 0.5-5 or not a multiple of 0.5."""


def rating_value_check(*, value: float) -> float:
    if not isinstance(value, (int, float)) or math.isnan(value) or not RATING_MIN <= value <= RATING_MAX:
        raise RatingValueError(f"value must be between {RATING_MIN:g} and {RATING_MAX:g}")
    if abs(value * 2 - round(value * 2)) > 1e-9:
        raise RatingValueError("value must be a multiple of 0.5")
    return float(value)


def rating_upsert(*, user: AbstractBaseUser, movie: Movie, value: float) -> tuple[Rating, bool]:
    """Store the user's stars for `movie`, replacing an earlier rating; returns (rating, created).

    One INSERT ... ON CONFLICT DO UPDATE statement: concurrent requests for the same user
    and movie never create a duplicate and never fail, the last one wins.
    """
    value = rating_value_check(value=value)
    now = timezone.now()
    with transaction.atomic():
        existed = Rating.objects.filter(user=user, movie=movie).exists()
        Rating.objects.bulk_create(
            [Rating(user=user, movie=movie, value=value, created_at=now, updated_at=now)],
            update_conflicts=True, unique_fields=["user", "movie"], update_fields=["value", "updated_at"],
        )
    rating = Rating.objects.get(user=user, movie=movie)
    return rating, not existed


def rating_delete(*, user: AbstractBaseUser, movie_id: int) -> bool:
    """Remove the user's rating of the movie; False when there was none."""
    deleted, _ = Rating.objects.filter(user=user, movie_id=movie_id).delete()
    return deleted > 0
