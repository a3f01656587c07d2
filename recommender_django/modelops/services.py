"""Training from the database, registry <-> admin sync, promotion and training runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from common.registry import ModelVersion as RegistryVersion
from common.registry import registry_from_settings
from recommender_django.modelops.models import ModelVersion, TrainingRun
from recommender_django.movies.models import Movie, Rating

if TYPE_CHECKING:  # pandas is only needed to train: serving workers never import it
    import pandas as pd


def training_frames() -> dict[str, pd.DataFrame]:
    """Ratings and movies as the recommender's training frames (ids are database ids)."""
    import pandas as pd

    ratings = pd.DataFrame.from_records(
        Rating.objects.values_list("user_id", "movie_id", "value").iterator(chunk_size=20_000),
        columns=["user_id", "movie_id", "rating"],
    )
    movies = pd.DataFrame.from_records(
        Movie.objects.values_list("id", "title", "year", "genres").iterator(chunk_size=20_000),
        columns=["movie_id", "title", "year", "genres"],
    )
    movies["year"] = movies["year"].astype("Int64")
    return {"ratings": ratings.astype({"user_id": "int64", "movie_id": "int64", "rating": "float64"}),
            "movies": movies}


def recommender_train_from_database(
    *, algorithm: str, seed: int = 42, quick: bool = False, promote: bool = True,
    progress: Callable[[str], None] = lambda _m: None,
) -> tuple[RegistryVersion, list[dict]]:
    """Train on the ratings in the database now and register a new version."""
    # Imported here: training pulls in scikit-learn and Surprise, which serving never needs.
    from common.recommender.training import APP_RATING_SCALE, recommender_train

    frames = training_frames()
    progress(f"{len(frames['ratings'])} ratings by {frames['ratings']['user_id'].nunique()} users "
             f"on {len(frames['movies'])} movies ({connection.vendor})")
    version, rows = recommender_train(
        ratings=frames["ratings"], movies=frames["movies"], dataset=f"database:{connection.vendor}",
        algorithm=algorithm, registry=registry_from_settings(), rating_scale=APP_RATING_SCALE, seed=seed,
        quick=quick, promote=promote, progress=progress,
        extra_metadata={"trained_from": "django database", "database_vendor": connection.vendor},
    )
    model_versions_sync()
    return version, rows


def model_versions_sync() -> None:
    """Mirror the registry's versions of the recommender into `ModelVersion` rows."""
    registry = registry_from_settings()
    name = settings.RECOMMENDER_MODEL_NAME
    current = registry.current_version(name)
    stored = registry.versions(name)
    with transaction.atomic():
        for version in stored:
            meta = version.metadata
            ModelVersion.objects.update_or_create(
                name=name, version=int(version.version),
                defaults={"algorithm": str(meta.get("algorithm", "")), "created": str(meta.get("created", "")),
                          "is_current": version.version == current, "metrics": meta.get("metrics") or {},
                          "metadata": meta},
            )
        ModelVersion.objects.filter(name=name).exclude(version__in=[int(v.version) for v in stored]).delete()


def model_version_promote(*, version: ModelVersion) -> None:
    registry_from_settings().promote(version.name, str(version.version))
    model_versions_sync()


def training_run_start(*, algorithm: str, requested_by: AbstractBaseUser | None) -> TrainingRun:
    """Queue a retraining; runs in a background process (or inline, in tests)."""
    run = TrainingRun.objects.create(algorithm=algorithm, requested_by=requested_by)
    if settings.RECOMMENDER_TRAIN_RUNNER == "inline":
        training_run_execute(run_id=run.id)
        run.refresh_from_db()
        return run
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "recommender_django.settings.development")
    process = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
        [sys.executable, "-m", "django", "train_recommender", "--run", str(run.id), f"--settings={settings_module}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    # Reap it when it ends, so a long-lived worker does not collect zombie processes.
    threading.Thread(target=process.wait, name=f"training-run-{run.id}", daemon=True).start()
    return run


def training_run_execute(*, run_id: int) -> TrainingRun:
    """Do the training of a queued run, recording progress lines and the outcome."""
    run = TrainingRun.objects.get(pk=run_id)
    lines: list[str] = []

    def progress(message: str) -> None:
        lines.append(message)
        TrainingRun.objects.filter(pk=run_id).update(log="\n".join(lines[-200:]))

    TrainingRun.objects.filter(pk=run_id).update(status=TrainingRun.Status.RUNNING, started_at=timezone.now())
    try:
        version, _ = recommender_train_from_database(
            algorithm=run.algorithm, quick=settings.RECOMMENDER_TRAIN_QUICK, progress=progress
        )
    except Exception as exc:  # the run records any failure; the admin shows it
        lines.append(f"failed: {type(exc).__name__}: {exc}")
        lines.append(traceback.format_exc(limit=5))
        TrainingRun.objects.filter(pk=run_id).update(status=TrainingRun.Status.FAILED, finished_at=timezone.now(),
                                                     log="\n".join(lines[-200:]))
    else:
        TrainingRun.objects.filter(pk=run_id).update(status=TrainingRun.Status.SUCCEEDED, finished_at=timezone.now(),
                                                     version=version.version, log="\n".join(lines[-200:]))
    return TrainingRun.objects.get(pk=run_id)
