"""WSGI entry point: `gunicorn recommender_django.wsgi:application`.

Production settings unless DJANGO_SETTINGS_MODULE says otherwise.  The current model is
loaded once here, so with gunicorn's preload the workers inherit it (the arrays are
memory-mapped, shared through the page cache either way).
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender_django.settings.production")

application = get_wsgi_application()


def _warm_up() -> None:
    from recommender_django.modelops.serving import recommender_service

    recommender_service().status()  # a missing model is reported by /readyz, not raised here


_warm_up()
