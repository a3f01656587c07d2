"""Serving: shared memory-mapped arrays, hot reload on promotion, retraining from the admin."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from django.test import Client

from common.registry import registry_from_settings
from common.settings import Settings, get_settings
from recommender_django.modelops.models import ModelVersion, TrainingRun
from recommender_django.modelops.serving import recommender_service

pytestmark = pytest.mark.django_db


def file_backed(array: np.ndarray) -> bool:
    """A view on a memory-mapped .npy file (pages shared by every process mapping it), not a copy."""
    return not array.flags.owndata and isinstance(array.base, np.memmap)


def test_large_arrays_are_memory_mapped_not_copied(served: Path) -> None:
    model = recommender_service().model()
    assert file_backed(model.ease) and file_backed(model.similar_index) and file_backed(model.features)
    assert file_backed(model.predictor._qi)  # the rating model's item factors too


def test_workers_switch_to_a_promoted_version_without_restart(
    trained_store: Path, isolated_settings: Settings, monkeypatch: pytest.MonkeyPatch, admin_client: Client
) -> None:
    store = isolated_settings.model_store_dir
    shutil.copytree(trained_store, store)
    registry = registry_from_settings()
    first = registry.get("recommender")
    registry.save(name="recommender", artifact=registry.load("recommender").artifact,
                  metadata={**first.metadata, "algorithm": "svd-copy"},
                  arrays=dict(registry.load("recommender").arrays), promote=False)
    client = Client()
    assert client.get("/api/model").json()["version"] == "1"

    versions = admin_client.get("/admin/modelops/modelversion/")  # syncs the registry into the admin
    assert versions.status_code == 200 and ModelVersion.objects.count() == 2
    second = ModelVersion.objects.get(version=2)
    admin_client.post("/admin/modelops/modelversion/", {"action": "promote", "_selected_action": [second.pk]})
    assert registry.current_version("recommender") == "2"
    deadline = time.monotonic() + 5
    while client.get("/api/model").json()["version"] != "2":
        assert time.monotonic() < deadline, "the promoted version was not picked up"
        time.sleep(0.1)
    assert client.get("/api/model").json()["algorithm"] == "svd-copy"
    assert ModelVersion.objects.get(version=2).is_current and not ModelVersion.objects.get(version=1).is_current


def test_a_damaged_current_version_answers_503_not_500(trained_store: Path, isolated_settings: Settings) -> None:
    store = isolated_settings.model_store_dir
    shutil.copytree(trained_store, store)
    (store / "recommender" / "1" / "ease_weights.npy").write_bytes(b"garbage")
    get_settings.cache_clear()
    response = Client().get("/api/popular")
    assert response.status_code == 503 and "sha256" in response.json()["detail"]
    assert Client().get("/readyz").status_code == 503


def test_admin_retraining_creates_a_run_and_a_new_current_version(
    trained_store: Path, isolated_settings: Settings, admin_client: Client
) -> None:
    shutil.copytree(trained_store, isolated_settings.model_store_dir)
    admin_client.get("/admin/modelops/modelversion/")
    current = ModelVersion.objects.get(version=1)
    response = admin_client.post("/admin/modelops/modelversion/", {"action": "retrain", "_selected_action": [current.pk]},
                                 follow=True)
    assert "Training run 1 (svd): succeeded" in response.content.decode()
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.SUCCEEDED and run.version == "2" and "final fit" in run.log
    assert registry_from_settings().current_version("recommender") == "2"
    assert Client().get("/api/model").json()["version"] == "2"


def test_admin_can_train_the_first_version_from_a_form(admin_client: Client, isolated_settings: Settings) -> None:
    page = admin_client.get("/admin/modelops/modelversion/train/")
    assert page.status_code == 200 and "baselineonly" in page.content.decode()
    response = admin_client.post("/admin/modelops/modelversion/train/", {"algorithm": "baselineonly"}, follow=True)
    assert "Training run" in response.content.decode()
    assert TrainingRun.objects.get().status == TrainingRun.Status.SUCCEEDED
    assert registry_from_settings().get("recommender").metadata["algorithm"] == "baselineonly"
    assert "Train a new version" in admin_client.get("/admin/modelops/modelversion/").content.decode()
