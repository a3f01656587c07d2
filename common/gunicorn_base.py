"""Production gunicorn settings shared by every app (each app's `gunicorn_conf` imports these).

Sync workers = cores, the app preloaded once in the master (models and
memory-mapped arrays are shared copy-on-write), and numeric libraries pinned
to one thread per worker so workers do not fight over the cores.
"""

from __future__ import annotations

import multiprocessing
import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

workers = int(os.environ.get("MLAPPS_WORKERS", multiprocessing.cpu_count()))
worker_class = "sync"
preload_app = True
timeout = int(os.environ.get("MLAPPS_WORKER_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
max_requests = 0
accesslog = os.environ.get("MLAPPS_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("MLAPPS_LOG_LEVEL", "info")
limit_request_line = 8190
forwarded_allow_ips = "127.0.0.1"
