"""The admin's view of the model registry (`ModelVersion`, mirrored from it) and training runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ModelVersion(models.Model):
    """One registry version (the registry folder is the source of truth; rows are synced from it)."""

    name = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    algorithm = models.CharField(max_length=40, blank=True)
    created = models.CharField(max_length=40, blank=True, help_text="creation time recorded by the registry")
    is_current = models.BooleanField(default=False)
    metrics = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="one_row_per_model_version")]

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    algorithm = models.CharField(max_length=40)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    version = models.CharField(max_length=20, blank=True)
    log = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"training {self.algorithm} ({self.status})"
