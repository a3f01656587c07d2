"""The current recommender model of this process: hot-reloaded on promotion, shared arrays.

`CurrentModel` checks the registry's `current` alias with one `stat` call at most twice a
second, so every worker picks up a newly promoted version without a restart; the arrays
are memory-mapped from the registry's `.npy` files, so workers share them.  Movies added
to the database after training (admin) are handed to the model as content-only extras.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models import Count, Sum

from common.recommender.model import ExtraMovie, RecommenderModel
from common.registry import CurrentModel, ModelRegistry, ModelUnavailableError, registry_from_settings
from recommender_django.movies.models import Movie, Rating


class RecommenderService:
    def __init__(self, *, registry: ModelRegistry, name: str) -> None:
        self.registry = registry
        self.current = CurrentModel(registry, name)
        self._lock = threading.Lock()
        self._loaded: object | None = None
        self._model: RecommenderModel | None = None
        self._extras_key: tuple | None = None
        self._extras_checked = float("-inf")
        self._extras: list[ExtraMovie] = []

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
                    self._model, self._loaded, self._extras_key = model, loaded, None
        assert self._model is not None
        return self._model

    def status(self) -> tuple[bool, str]:
        try:
            model = self.model()
        except ModelUnavailableError as exc:
            return False, str(exc)
        return True, f"{self.current.name}@{model.version} loaded ({model.n_items} movies)"

    def extra_movies(self, model: RecommenderModel) -> list[ExtraMovie]:
        """Movies in the database that the model has not seen (added after training).

        The movie table is checked at most once a second per process, with two index
        lookups (newest change, highest id); the list is rebuilt only when they moved.
        """
        now = time.monotonic()
        if self._extras_key is not None and self._extras_key[0] == model.version and now - self._extras_checked < 1.0:
            return self._extras
        newest = Movie.objects.order_by("-updated_at").values_list("updated_at", flat=True).first()
        highest = Movie.objects.order_by("-id").values_list("id", flat=True).first()
        key = (model.version, newest, highest)
        self._extras_checked = now
        if key == self._extras_key:
            return self._extras
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
        with self._lock:
            self._extras, self._extras_key = extras, key
        return extras


_SERVICES: dict[tuple[Path, str], RecommenderService] = {}
_SERVICES_LOCK = threading.Lock()


def recommender_service() -> RecommenderService:
    """The service for the registry configured now (tests switch registries between tests)."""
    registry = registry_from_settings()
    key = (Path(registry.root).resolve(), settings.RECOMMENDER_MODEL_NAME)
    service = _SERVICES.get(key)
    if service is None:
        with _SERVICES_LOCK:
            service = _SERVICES.setdefault(key, RecommenderService(registry=registry, name=key[1]))
    return service
