"""API fuzzing, bounded: each app's OpenAPI document validates and Schemathesis finds nothing.

The app is served for real (gunicorn, production config); the Schemathesis CLI runs with checks
not_a_server_error, status_code_conformance and response_schema_conformance, 20 examples per
operation (phases examples, coverage, fuzzing).  `make fuzz` runs the same code
(benchmarks/fuzz.py) with >= 500 examples per operation and every phase, stateful included.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.fuzz import fuzz_run, openapi_fetch, openapi_problems
from tests.reliability.conftest import APPS
from tests.support.servers import wsgi_server

BOUNDED_EXAMPLES = 20
# The stateful phase (sequences of linked calls) runs in `make fuzz`; the bounded pass keeps the
# schema examples, the coverage phase (boundary and invalid values) and random fuzzing.
BOUNDED_PHASES = ("--phases", "examples,coverage,fuzzing")


@pytest.mark.parametrize("app", APPS)
def test_openapi_document_validates(pool, app: str) -> None:
    server = pool.served(app)
    document = openapi_fetch(server.base_url, server.prepared.profile.openapi_path)
    assert openapi_problems(document) == []
    assert document["openapi"].startswith("3.")
    assert document["paths"], "the document lists no operation"


@pytest.mark.parametrize("app", APPS)
def test_schemathesis_finds_no_failure(pool, app: str, tmp_path: Path) -> None:
    server = pool.served(app)
    prepared = server.prepared
    result = fuzz_run(
        app=app, base_url=server.base_url, openapi_path=prepared.profile.openapi_path, token=prepared.token,
        max_examples=BOUNDED_EXAMPLES, work_dir=tmp_path, seed=1, timeout=240, extra_args=BOUNDED_PHASES,
    )
    assert result.ok, result.describe()
    assert result.operations_tested == result.operations_selected > 0
    fuzzed = [op for op, count in result.fuzzing_by_operation.items() if count > 1]
    assert fuzzed, "no operation received more than one generated case"
    assert server.running(), "the server died under fuzzing"


def test_fuzz_harness_reports_a_server_error(tmp_path: Path) -> None:
    """The harness is not blind: the example app's /boom (a 500) is reported, the other operations pass."""
    import sqlalchemy as sa

    from common.auth import TokenStore
    from common.registry import CurrentModel, registry_from_settings
    from tests.mlapps_flask.conftest import app_create, toy_model_save

    registry = registry_from_settings()
    toy_model_save(registry)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'toy.sqlite3'}")
    app = app_create(engine=engine, current=CurrentModel(registry, "toy", check_interval=0.0))
    token = TokenStore(engine).token_create(name="fuzz")
    try:
        with wsgi_server(app) as base_url:
            result = fuzz_run(
                app="toy", base_url=base_url, openapi_path="/openapi.json", token=token, max_examples=5,
                work_dir=tmp_path, extra_args=("--include-path-regex", "boom|items", "--phases", "fuzzing"),
            )
    finally:
        engine.dispose()
    assert not result.ok
    assert [(f["code"], f["operations"]) for f in result.failures] == [("ST101", ["GET /api/v1/boom"])]
    assert set(result.fuzzing_by_operation) == {"GET /api/v1/boom", "GET /api/v1/items", "GET /api/v1/items/{item_id}"}
    assert result.fuzzing_by_operation["GET /api/v1/items"] == 5
