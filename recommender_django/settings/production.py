"""Production: refuses debug and the development secret; HTTPS-only cookies and HSTS.

Set MLAPPS_MODE=production (implied here), MLAPPS_SECRET_KEY (>= 32 random characters),
MLAPPS_ALLOWED_HOSTS (comma separated) and DATABASE_URL.  TLS is expected to terminate
at a reverse proxy that sets X-Forwarded-Proto; for a plain-HTTP run on a private
network set MLAPPS_HTTPS=0 (turns off the redirect, secure cookies and HSTS).
"""

import os

from common.settings import get_settings
from recommender_django.settings.base import *  # noqa: F403

os.environ.setdefault("MLAPPS_MODE", "production")
get_settings.cache_clear()
APP_SETTINGS = get_settings()
if APP_SETTINGS.mode != "production":
    raise RuntimeError("production settings need MLAPPS_MODE=production (or unset)")
APP_SETTINGS.check_production()

DEBUG = False
SECRET_KEY = APP_SETTINGS.secret_key
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("MLAPPS_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("MLAPPS_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

# `python -m django collectstatic --settings=recommender_django.settings.production` fills it
# (compressed copies); without it WhiteNoise serves the same files from the packages.
STATIC_ROOT = APP_SETTINGS.var_dir.resolve() / "recommender-static"

HTTPS = os.environ.get("MLAPPS_HTTPS", "1").lower() not in ("0", "false", "no")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
