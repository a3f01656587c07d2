"""URL map: pages, API (/api/, docs at /api/docs), admin, health checks."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from recommender_django.api.endpoints import api, recommendations_route
from recommender_django.seed.views import seed_predict
from recommender_django.web import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # The busiest API answer, matched before the nested API patterns (see recommendations_route);
    # ninja's own pattern for it stays under api/ (URL name api:recommendations, OpenAPI).
    path("api/users/<user_id>/recommendations", recommendations_route),
    path("admin/", admin.site.urls),
    # --- seed app (comparison issue) -------------------------------------------------------
    # The seed app adds its article-compatible endpoint here, before the API catch-all (a root
    # pattern, so that its cookie-less calls take the short middleware chain: handlers.py):
    path("api/predict/", seed_predict, name="seed-predict"),
    # `POST /api/predict/` is reserved for it; the recommender API never uses that path.
    # -----------------------------------------------------------------------------------------
    path("api/", api.urls),
    path("", include("recommender_django.web.urls")),
]
