"""The HTTP floor: a bare WSGI app that reads the request body and answers a fixed JSON.

Served by gunicorn with the same settings as every app, it shows what the server
and the load generator cost on their own; no framework can answer faster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

BODY = b'{"prediction": 0, "probability": 0.5}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ: dict, start_response: Callable[..., object]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", HEADERS)
    return [BODY]
