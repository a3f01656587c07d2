"""The current recommender model of this process: hot-reloaded on promotion, shared arrays.

`CurrentModel` checks the registry's `current` alias with one `stat` call at most twice a
second, so every worker picks up a newly promoted version without a restart; the arrays
are memory-mapped from the registry's `.npy` files, so workers share them.  Movies added
to the database after training (admin) are handed to the model as content-only extras.

Each service also keeps this worker's cache of recommendation results and of the movies
they name; the catalogue version (model load + movie table stamp) is part of every key.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Hashable
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Sum

from common.recommender.cache import ResultCache
from common.recommender.model import ExtraMovie, RecommenderModel
from common.registry import CurrentModel, ModelRegistry, ModelUnavailableError, registry_from_settings
from recommender_django.movies.models import Movie, Rating

# Every model a process loads gets the next number: cache keys never confuse two loads,
# even of equally named versions from two registries (tests switch between them).
_LOAD_GENERATION = itertools.count(1)


@dataclasses.dataclass(frozen=True)
class Catalogue:
    """The movies as the model serves them: a version and the movies it has not seen."""

    version: Hashable  # (model load generation, movie count, newest change, highest id)
    extras: list[ExtraMovie]


class RecommenderService:
    def __init__(self, *, registry: ModelRegistry, name: str) -> None:
        self.registry = registry
        self.current = CurrentModel(registry, name)
        self._lock = threading.Lock()
        self._loaded: object | None = None
        self._model: RecommenderModel | None = None
        self._generation = 0  # of `_model`: both change together, under the lock
        self._catalogue: Catalogue | None = None
        self._catalogue_checked = float("-inf")
        entries = int(getattr(settings, "RECOMMENDER_RESULT_CACHE_ENTRIES", 2048))
        self.results: ResultCache = ResultCache(max_entries=entries)
        self.movies: ResultCache[Movie] = ResultCache(max_entries=max(entries, 20_000))

    def model(self) -> RecommenderModel:
        """The current model; raises `ModelUnavailableError` (-> 503) when there is none."""
        loaded = self.current.get()
        if loaded is not self._loaded:
            with self._lock:
                if loaded is not self._loaded:
                    try:
                        model = RecommenderModel.from_loaded(loaded)
                    except (KeyError, AttributeError, TypeError) as exc:
                        raise ModelUnavailableError(f"model {loaded.ref} is not a recommender model: {exc}") from exc
                    self.results.clear()
                    self._model, self._generation, self._loaded, self._catalogue = (
                        model, next(_LOAD_GENERATION), loaded, None)
        assert self._model is not None
        return self._model

    def status(self) -> tuple[bool, str]:
        try:
            model = self.model()
        except ModelUnavailableError as exc:
            return False, str(exc)
        return True, f"{self.current.name}@{model.version} loaded ({model.n_items} movies)"

    def catalogue(self, model: RecommenderModel, *, stamp: tuple[object, object] | None = None) -> Catalogue:
        """The movies the model has not seen (added after training) and the catalogue's version.

        The movie table is checked at most once per `RECOMMENDER_CATALOGUE_CHECK_SECONDS`
        per process, with one aggregate query (count, newest change, highest id: an added,
        edited or deleted movie moves one of them); the extras are rebuilt only when it moved.
        A caller that read the table's (newest change, highest id) `stamp` already (with the
        user's state) gets it checked at once when the stamp moved.
        """
        now = time.monotonic()
        interval = float(getattr(settings, "RECOMMENDER_CATALOGUE_CHECK_SECONDS", 1.0))
        catalogue = self._catalogue
        # A model replaced since the caller got it gets a version of its own (never cached under the new one).
        generation = self._generation if model is self._model else -id(model)
        if (catalogue is not None and catalogue.version[0] == generation and now - self._catalogue_checked < interval
                and (stamp is None or stamp == catalogue.version[2:])):
            return catalogue
        found = Movie.objects.aggregate(count=Count("id"), newest=Max("updated_at"), highest=Max("id"))
        # The newest change as the raw query of `user_rating_state` returns it (text on SQLite).
        newest = connection.ops.adapt_datetimefield_value(found["newest"])
        version = (generation, found["count"], newest, found["highest"])
        self._catalogue_checked = now
        if catalogue is not None and catalogue.version == version:
            return catalogue
        catalogue = Catalogue(version=version, extras=self._extras_load(model))
        with self._lock:
            self._catalogue = catalogue
            self.movies.clear()  # titles may have changed: movies are fetched again as needed
        return catalogue

    def caches_clear(self) -> None:
        """Forget cached results and movies, and check the movie table at the next request."""
        with self._lock:
            self.results.clear()
            self.movies.clear()
            self._catalogue_checked = float("-inf")

    def extra_movies(self, model: RecommenderModel) -> list[ExtraMovie]:
        return self.catalogue(model).extras

    def movies_by_id(self, *, movie_ids: set[int]) -> dict[int, Movie]:
        """Movies of the current catalogue version, from this worker's memo (one query for the missing)."""
        from recommender_django.movies.selectors import movies_by_id

        found = {movie_id: movie for movie_id in movie_ids if (movie := self.movies.get(movie_id)) is not None}
        missing = movie_ids - found.keys()
        if missing:
            fetched = movies_by_id(movie_ids=missing)
            for movie_id, movie in fetched.items():
                self.movies.put(movie_id, movie)
            found |= fetched
        return found

    @staticmethod
    def _extras_load(model: RecommenderModel) -> list[ExtraMovie]:
        ids = np.fromiter(Movie.objects.values_list("id", flat=True), dtype=np.int64)
        unknown = ids[model.index_of(ids) < 0].tolist()
        extras: list[ExtraMovie] = []
        if unknown:
            stats = {row["movie_id"]: row for row in Rating.objects.filter(movie_id__in=unknown)
                     .values("movie_id").annotate(count=Count("id"), total=Sum("value"))}
            for movie in Movie.objects.filter(id__in=unknown).only("id", "genres", "year"):
                row = stats.get(movie.id, {})
                extras.append(ExtraMovie(key=movie.id, genres=movie.genres, year=movie.year,
                                         rating_count=int(row.get("count", 0)), rating_sum=float(row.get("total") or 0.0)))
        return extras


_SERVICES: dict[tuple[Path, str], RecommenderService] = {}
_SERVICES_BY_SETTING: dict[tuple[Path, str], RecommenderService] = {}
_SERVICES_LOCK = threading.Lock()


def recommender_service() -> RecommenderService:
    """The service for the registry configured now (tests switch registries between tests).

    Looked up by the configured folder as written (no filesystem call on the hot path);
    two spellings of one folder still share one service, found by its resolved path.
    """
    from common.settings import get_settings

    configured = (get_settings().model_store_dir, settings.RECOMMENDER_MODEL_NAME)
    service = _SERVICES_BY_SETTING.get(configured)
    if service is not None:
        return service
    registry = registry_from_settings()
    key = (Path(registry.root).resolve(), settings.RECOMMENDER_MODEL_NAME)
    with _SERVICES_LOCK:
        service = _SERVICES.setdefault(key, RecommenderService(registry=registry, name=key[1]))
        _SERVICES_BY_SETTING[configured] = service
    return service
