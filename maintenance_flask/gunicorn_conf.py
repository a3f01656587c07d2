"""Production gunicorn settings of the maintenance app: the shared ones (sync workers, preload, one thread each).

Scoring a reading takes a few milliseconds of forest and boosting predictions
and one short transaction, so CPU-bound sync workers (one per core) fit; the
models are loaded once in the master and shared copy-on-write.
"""

from common.gunicorn_base import *  # noqa: F403

proc_name = "mlapps-maintenance"
