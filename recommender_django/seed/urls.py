"""Included by the project at `api/predict/` (the article's path)."""

from django.urls import path

from recommender_django.seed import views

app_name = "seed"
urlpatterns = [path("", views.seed_predict, name="predict")]
