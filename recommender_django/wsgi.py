"""WSGI entry point: `gunicorn recommender_django.wsgi:application`.

Production settings unless DJANGO_SETTINGS_MODULE says otherwise.  The current model is
loaded once here, so with gunicorn's preload the workers inherit it (the arrays are
memory-mapped, shared through the page cache either way).  The handler is Django's with a
shorter middleware chain for cookie-less reads of the recommendations URL (handlers.py).
"""

from __future__ import annotations

import os

import django

from recommender_django.handlers import ProjectWSGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender_django.settings.production")
django.setup(set_prefix=False)  # what django.core.wsgi.get_wsgi_application does, with the project's handler
application = ProjectWSGIHandler()


def _warm_up() -> None:
    from recommender_django.modelops.serving import recommender_service

    recommender_service().status()  # a missing model is reported by /readyz, not raised here


_warm_up()
