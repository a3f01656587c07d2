"""Model versions (promote, retrain) and training runs in the Django admin."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from common.recommender.rating import ALGORITHMS, DEFAULT_ALGORITHM

from recommender_django.modelops.models import ModelVersion, TrainingRun
from recommender_django.modelops.services import model_version_promote, model_versions_sync, training_run_start


class TrainForm(forms.Form):
    algorithm = forms.ChoiceField(
        choices=[(name, spec.label) for name, spec in ALGORITHMS.items()], initial=DEFAULT_ALGORITHM,
        help_text="Rating model; the top-N ranker (EASE + content) is retrained either way.",
    )


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "algorithm", "created", "is_current", "rmse", "ndcg")
    list_filter = ("algorithm", "is_current")
    readonly_fields = ("name", "version", "algorithm", "created", "is_current", "metrics", "metadata")
    actions = ("promote", "retrain")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        return False  # registry versions are immutable

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        model_versions_sync()
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list:
        own = [path("train/", self.admin_site.admin_view(self.train_view), name="modelops_modelversion_train")]
        return own + super().get_urls()

    def train_view(self, request: HttpRequest) -> HttpResponse:
        """Train a new version on the ratings in the database now (a background process)."""
        if not self.has_change_permission(request):
            return redirect("admin:index")
        form = TrainForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            run = training_run_start(algorithm=form.cleaned_data["algorithm"], requested_by=request.user)
            self.message_user(request, f"training run {run.id} ({run.algorithm}): {run.status}")
            return redirect(reverse("admin:modelops_trainingrun_changelist"))
        context = {**self.admin_site.each_context(request), "form": form, "opts": self.model._meta,
                   "title": "Train a new recommender version"}
        return TemplateResponse(request, "admin/modelops/modelversion/train.html", context)

    @admin.display(description="RMSE")
    def rmse(self, obj: ModelVersion) -> str:
        value = obj.metrics.get("rmse")
        return f"{value:.4f}" if isinstance(value, (int, float)) else "-"

    @admin.display(description="NDCG@10")
    def ndcg(self, obj: ModelVersion) -> str:
        value = obj.metrics.get("ndcg@10")
        return f"{value:.3f}" if isinstance(value, (int, float)) else "-"

    @admin.action(description="Promote the selected version (serve it now)")
    def promote(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "select exactly one version to promote", level=messages.ERROR)
            return
        version = queryset.get()
        model_version_promote(version=version)
        self.message_user(request, f"{version} is now current; workers switch to it within a second")

    @admin.action(description="Retrain with the selected version's algorithm")
    def retrain(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        algorithms = sorted({v.algorithm or "svd" for v in queryset})
        for algorithm in algorithms:
            run = training_run_start(algorithm=algorithm, requested_by=request.user)
            self.message_user(request, f"training run {run.id} ({algorithm}): {run.status}")


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("id", "algorithm", "status", "requested_by", "requested_at", "finished_at", "version")
    list_filter = ("status", "algorithm")
    readonly_fields = ("algorithm", "status", "requested_by", "requested_at", "started_at", "finished_at",
                       "version", "log")
    actions = ("retrain_svd",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Start a new training run with the same algorithm")
    def retrain_svd(self, request: HttpRequest, queryset: QuerySet[TrainingRun]) -> None:
        for algorithm in sorted({r.algorithm for r in queryset}):
            run = training_run_start(algorithm=algorithm, requested_by=request.user)
            self.message_user(request, f"training run {run.id} ({algorithm}): {run.status}")
