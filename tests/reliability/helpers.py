"""Small helpers of the reliability tests."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

from psycopg import sql

from benchmarks.reliability_env import AppServer, PreparedApp, free_port


@contextlib.contextmanager
def server_running(prepared: PreparedApp, **kwargs: Any) -> Iterator[AppServer]:
    server = AppServer(prepared, **kwargs)
    server.start()
    try:
        server.wait_up()
        yield server
    finally:
        server.stop()


def wait_for(predicate: Any, *, timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Poll `predicate()` until it returns something truthy; returns the last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def wait_steady(probe: Any, *, times: int = 6, hold: float = 1.2, timeout: float = 20.0,
                interval: float = 0.05) -> bool:
    """True once `probe()` has been truthy `times` calls in a row over at least `hold` seconds.

    Every worker of a server must agree: each one checks the model registry at most every 0.5 s
    (CurrentModel), and only when a request reaches it, so a streak must outlast that interval.
    """
    deadline = time.monotonic() + timeout
    streak, since = 0, 0.0
    while time.monotonic() < deadline:
        if probe():
            streak, since = streak + 1, since if streak else time.monotonic()
        else:
            streak = 0
        if streak >= times and time.monotonic() - since >= hold:
            return True
        time.sleep(interval)
    return False


class TcpProxy:
    """A TCP forwarder to a database server; `stop()` is the database going away, `start()` its return.

    Stopping closes the listening socket and every forwarded connection, so the app sees
    exactly what a stopped PostgreSQL looks like (refused connects, broken pooled
    connections) while the shared server itself is never touched.
    """

    def __init__(self, *, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)


POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty database on the test PostgreSQL server (dropped afterwards); yields its name."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def postgres_url(*, database: str, port: int | None = None) -> str:
    """The URL of `database` on the test server, optionally through another port (a proxy)."""
    parsed = urllib.parse.urlsplit(POSTGRES_URL)
    netloc = parsed.netloc if port is None else f"{parsed.netloc.rsplit(':', 1)[0]}:{port}"
    return urllib.parse.urlunsplit((parsed.scheme, netloc, f"/{database}", parsed.query, ""))


def postgres_target() -> tuple[str, int]:
    parsed = urllib.parse.urlsplit(POSTGRES_URL)
    return parsed.hostname or "127.0.0.1", parsed.port or 5432
