"""Movies (MovieLens ids kept), ratings (one per user and movie) and imported MovieLens raters."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from common.recommender.content import genres_parse

RATING_MIN = 0.5
RATING_MAX = 5.0


class Movie(models.Model):
    """A movie.  Imported movies keep their MovieLens id as primary key (so models trained
    straight from the dataset and from this database name movies alike); movies added in
    the admin get the next free id."""

    movielens_id = models.PositiveIntegerField(unique=True, null=True, blank=True,
                                               help_text="MovieLens movieId; empty for movies added here")
    source = models.CharField(max_length=40, default="admin",
                              help_text="dataset the movie was imported from, or 'admin'")
    title = models.CharField(max_length=300)
    year = models.PositiveSmallIntegerField(null=True, blank=True,
                                            validators=[MinValueValidator(1870), MaxValueValidator(2100)])
    genres = models.CharField(max_length=300, blank=True, default="",
                              help_text="'|'-separated, e.g. Comedy|Drama")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        indexes = [models.Index(fields=["title"]), models.Index(fields=["updated_at"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title

    @property
    def genre_list(self) -> list[str]:
        return genres_parse(text=self.genres)


class Rating(models.Model):
    """A user's stars for a movie; rating again replaces the previous value."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings")
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="ratings")
    value = models.FloatField(validators=[MinValueValidator(RATING_MIN), MaxValueValidator(RATING_MAX)])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "movie"], name="one_rating_per_user_and_movie"),
            models.CheckConstraint(condition=models.Q(value__gte=RATING_MIN) & models.Q(value__lte=RATING_MAX),
                                   name="rating_value_in_range"),
        ]
        indexes = [models.Index(fields=["movie"]), models.Index(fields=["user", "-updated_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.movie_id}: {self.value:g}"


class ImportedRater(models.Model):
    """A MovieLens rater imported as a user who cannot log in (their ratings are public data)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="imported_rater")
    dataset = models.CharField(max_length=40)
    movielens_user_id = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "movielens_user_id"], name="one_user_per_rater")]

    def __str__(self) -> str:
        return f"{self.dataset} user {self.movielens_user_id}"
