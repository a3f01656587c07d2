"""Serving apps for real in tests: a WSGI app in a thread, or `mlapps serve APP` in a subprocess."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, *, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last_error = exc
        except OSError as exc:
            last_error = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s: {last_error}")


@contextlib.contextmanager
def wsgi_server(app, *, threaded: bool = True) -> Iterator[str]:  # noqa: ANN001 (any WSGI callable)
    """Serve a WSGI app on 127.0.0.1 from a background thread; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", free_port(), app, threaded=threaded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def app_process(
    app_name: str, *, env: Mapping[str, str] | None = None, prod: bool = True, workers: int = 2,
    health_path: str = "/healthz", timeout: float = 90.0,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run `mlapps serve APP` (gunicorn with --prod) on a free port; yields (base URL, process)."""
    port = free_port()
    argv = [sys.executable, "-m", "common.cli", "serve", app_name, "--port", str(port)]
    if prod:
        argv.append("--prod")
    full_env = {**os.environ, "MLAPPS_WORKERS": str(workers), "MLAPPS_ACCESS_LOG": "", **(env or {})}
    process = subprocess.Popen(argv, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + health_path, timeout=timeout, process=process)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
