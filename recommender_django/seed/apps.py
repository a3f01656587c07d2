from __future__ import annotations

import sys

from django.apps import AppConfig


class SeedConfig(AppConfig):
    name = "recommender_django.seed"
    label = "seed"
    verbose_name = "The article's seed model"

    def ready(self) -> None:
        if "gunicorn" in sys.modules:  # preloaded master: load once, workers share it; commands stay lazy
            from recommender_django.seed.views import seed_service

            seed_service().preload()
