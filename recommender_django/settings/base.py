"""Settings shared by every environment (HackSoft/cookiecutter-django layout).

Values come from `common.settings` (environment variables prefixed MLAPPS_, plus
DATABASE_URL), so the Flask and Django apps are configured the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

# One BLAS thread per process: serving does many tiny matrix operations (fold-in solves,
# vector-matrix products) for which thread hand-offs cost more than they save, and
# gunicorn runs one worker per core anyway.  Set before numpy is imported; overridable.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import dj_database_url  # noqa: E402

from common.settings import get_settings  # noqa: E402

PACKAGE_DIR = Path(__file__).resolve().parent.parent
APP_SETTINGS = get_settings()

SECRET_KEY = APP_SETTINGS.secret_key
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "ninja",  # only for its static files: the API docs page is served locally, no CDN
]
LOCAL_APPS = [
    "recommender_django.movies",
    "recommender_django.accounts",
    "recommender_django.modelops",
    "recommender_django.web",
]
# --- seed app (comparison issue) -------------------------------------------------------------
# Another change adds "recommender_django.seed" here, serving the article-compatible
# `POST /api/predict/` endpoint.  Keep this list as the place to plug it in.
SEED_APPS: list[str] = ["recommender_django.seed"]
# ---------------------------------------------------------------------------------------------
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS + SEED_APPS

MIDDLEWARE = [
    "recommender_django.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "recommender_django.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "recommender_django.middleware.ApiProblemMiddleware",
]

# Flash messages live in the session (database-backed, already loaded for signed-in pages).  The default
# FallbackStorage builds a cookie signer on every request, API calls included (~10 % of a /healthz answer).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "recommender_django.urls"
WSGI_APPLICATION = "recommender_django.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "recommender_django.web.context.site",
            ],
        },
    }
]


def database_config(url: str) -> dict:
    """Django DATABASES entry for `url`; SQLite gets WAL and immediate transactions so
    concurrent writers queue instead of failing with 'database is locked'.

    Connections are kept for a minute on every backend: opening a SQLite connection (file,
    PRAGMAs, Django's SQL functions) costs about 0.5 ms of CPU, more than the whole cached
    recommendation request it would otherwise precede.
    """
    config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        }
    return config


DATABASES = {"default": database_config(APP_SETTINGS.database_url_for("recommender"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve straight from the packages (production may also collectstatic)

# Request limits: bodies above this answer 413 (problem+json on API paths).
DATA_UPLOAD_MAX_MEMORY_SIZE = min(APP_SETTINGS.max_request_bytes, 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# Security headers (the middleware adds CSP and Permissions-Policy).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

NINJA_PAGINATION_PER_PAGE = 20

# The recommender: registry model name, how admin-triggered retraining runs.
RECOMMENDER_MODEL_NAME = "recommender"
RECOMMENDER_TRAIN_RUNNER = "subprocess"  # "subprocess" (background process) or "inline" (tests)
RECOMMENDER_TRAIN_QUICK = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"recommender_django": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}

# Per-worker caches of the recommender (see modelops/serving.py): results kept per worker,
# and how often each worker checks the movie table for added, edited or deleted movies.
RECOMMENDER_RESULT_CACHE_ENTRIES = 2048
RECOMMENDER_CATALOGUE_CHECK_SECONDS = 1.0
