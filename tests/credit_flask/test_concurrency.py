"""Many clients scoring at once through a real server: every decision is logged, none lost."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask

from common.credit.decisions import decisions_count, decisions_list
from common.registry import ModelRegistry
from credit_flask import create_app
from tests.credit_flask.support import GOOD_APPLICANT, postgres_database_url
from tests.support.servers import wsgi_server

CLIENTS = 8
REQUESTS_PER_CLIENT = 25


def _score(base: str, client: int, index: int) -> int:
    body = json.dumps({**GOOD_APPLICANT, "Income": 50 + index}).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/score", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-Request-ID": f"client{client}-{index}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["decision_id"]


def _score_in_parallel(app: Flask) -> None:
    with wsgi_server(app) as base, ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(_score, base, c, i) for c in range(CLIENTS) for i in range(REQUESTS_PER_CLIENT)]
        ids = [f.result() for f in futures]
    total = CLIENTS * REQUESTS_PER_CLIENT
    assert len(set(ids)) == total
    engine = app.extensions["credit"].engine
    assert decisions_count(engine=engine) == total
    items, _ = decisions_list(engine=engine, offset=0, limit=total)
    assert {i["request_id"] for i in items} == {f"client{c}-{i}" for c in range(CLIENTS) for i in range(REQUESTS_PER_CLIENT)}


def test_parallel_clients_lose_no_decision_on_sqlite(app: Flask) -> None:
    _score_in_parallel(app)


@pytest.mark.postgres
def test_parallel_clients_lose_no_decision_on_postgresql(credit_registry: ModelRegistry) -> None:
    with postgres_database_url() as url:
        app = create_app({"TESTING": True, "CREDIT_DATABASE_URL": url})
        assert app.extensions["credit"].engine.dialect.name == "postgresql"
        _score_in_parallel(app)
        app.extensions["credit"].engine.dispose()
