"""Tests: fast password hashing, a real SQLite file (WAL) or DATABASE_URL, inline retraining."""

import os
import tempfile

from recommender_django.settings.base import *  # noqa: F403
from recommender_django.settings.base import DATABASES

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
RECOMMENDER_TRAIN_RUNNER = "inline"
RECOMMENDER_TRAIN_QUICK = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# A file, not SQLite's shared in-memory database, so that threads and server processes in the
# concurrency tests write through WAL like production does; one per test process.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Also the non-test name: a test that forgot its database marker never touches var/.
    DATABASES["default"]["NAME"] = os.path.join(tempfile.gettempdir(), f"mlapps-recommender-{os.getpid()}.sqlite3")
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"mlapps-recommender-test-{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_mlapps_recommender_{os.getpid()}"}
