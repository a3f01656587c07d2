"""Production gunicorn settings shared by every app (each app's `gunicorn_conf` imports these).

Sync workers = cores, the app preloaded once in the master (models and
memory-mapped arrays are shared copy-on-write), and numeric libraries pinned
to one thread per worker so workers do not fight over the cores.  The Flask and
Django comparison (`mlapps compare`) serves every app and both baselines with
exactly these settings.

Environment knobs (all optional):

    MLAPPS_WORKERS              worker processes (default: the CPUs this process may use)
    MLAPPS_THREADS_PER_WORKER   OpenMP/BLAS threads per worker (default 1)
    MLAPPS_PRELOAD              1 = import the app in the master before forking (default 1)
    MLAPPS_WORKER_TIMEOUT       seconds before a silent worker is restarted (default 30)
    MLAPPS_ACCESS_LOG           "-" = stdout (default), "off" = none, else a file path
    MLAPPS_LOG_LEVEL            gunicorn error-log level (default info)
"""

from __future__ import annotations

import os
import sys


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def _access_log(value: str | None) -> str | None:
    if value is None:
        return "-"
    if value.strip().lower() in ("", "off", "none", "0", "false", "no"):
        return None
    return value


threads_per_worker = int(os.environ.get("MLAPPS_THREADS_PER_WORKER") or 1)
# Forced, not defaulted: a shell's OMP_NUM_THREADS=8 times N workers would oversubscribe the cores.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                  "VECLIB_MAXIMUM_THREADS"):
    os.environ[_variable] = str(threads_per_worker)

workers = int(os.environ.get("MLAPPS_WORKERS") or _cpu_count())
worker_class = "sync"
preload_app = _flag("MLAPPS_PRELOAD", True)
timeout = int(os.environ.get("MLAPPS_WORKER_TIMEOUT") or 30)
graceful_timeout = 10
keepalive = 5
max_requests = 0
accesslog = _access_log(os.environ.get("MLAPPS_ACCESS_LOG"))
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("MLAPPS_LOG_LEVEL", "info")
limit_request_line = 8190
forwarded_allow_ips = "127.0.0.1"
# gunicorn >= 25 opens a control socket at one per-user path: several servers side by side
# (`mlapps demo --prod`, the comparison) would take it from each other.
control_socket_disable = True
# Worker heartbeats on tmpfs: a slow disk must not get a healthy worker killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def post_worker_init(worker: object) -> None:
    """Pin the thread pools again in each worker: the environment only binds libraries loaded after it.

    An app package that imported numpy before this config ran (its `gunicorn_conf`
    lives inside it) would keep numpy's default pools; threadpoolctl fixes them.
    """
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads_per_worker)
