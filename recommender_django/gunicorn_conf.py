"""gunicorn settings of the recommender: the shared production defaults."""

from common.gunicorn_base import *  # noqa: F403
