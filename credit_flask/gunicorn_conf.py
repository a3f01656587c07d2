"""Production gunicorn settings of the credit app: the shared ones (sync workers, preload, one thread per worker).

Scoring is CPU-light (tens of microseconds per applicant) and each request is one
short database write, so the shared sync-worker setup fits; nothing is overridden.
"""

from common.gunicorn_base import *  # noqa: F403

proc_name = "mlapps-credit"
