"""Local development: debug pages, SQLite under var/ unless DATABASE_URL says otherwise."""

from recommender_django.settings.base import *  # noqa: F403
from recommender_django.settings.base import APP_SETTINGS

DEBUG = APP_SETTINGS.debug or APP_SETTINGS.mode == "development"
