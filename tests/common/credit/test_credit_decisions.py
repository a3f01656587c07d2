"""The decision log store: what is kept, paging, and concurrent writers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from common.credit import decisions
from common.credit.scorecard import CompiledScorecard
from common.db import engine_create
from tests.credit_flask.support import GOOD_APPLICANT


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = engine_create(url=f"sqlite:///{tmp_path / 'log.sqlite3'}")
    decisions.decisions_tables_create(engine=engine)
    return engine


def test_a_decision_keeps_inputs_outputs_model_and_request(engine: sa.Engine, scorecard: CompiledScorecard) -> None:
    result = scorecard.score_one(GOOD_APPLICANT)
    decision_id = decisions.decision_record(engine=engine, inputs=GOOD_APPLICANT, result=result,
                                            request_id="req-1", channel="api")
    stored = decisions.decision_get(engine=engine, decision_id=decision_id)
    assert stored is not None
    assert stored["inputs"] == GOOD_APPLICANT
    assert stored["decision"] == result["decision"] and stored["score"] == result["score"]
    assert stored["reasons"] == result["reasons"]
    assert stored["model"] == {"name": "credit", "version": result["model"]["version"]}
    assert stored["request_id"] == "req-1" and stored["created_at"].tzinfo is not None


def test_pages_are_newest_first_and_filterable(engine: sa.Engine, scorecard: CompiledScorecard) -> None:
    for index in range(7):
        result = scorecard.score_one({**GOOD_APPLICANT, "Income": 50 + index * 100})
        decisions.decision_record(engine=engine, inputs={}, result=result, request_id=f"r{index}", channel="api")
    items, total = decisions.decisions_list(engine=engine, offset=0, limit=3)
    assert total == 7 and [i["request_id"] for i in items] == ["r6", "r5", "r4"]
    items, _ = decisions.decisions_list(engine=engine, offset=6, limit=3)
    assert [i["request_id"] for i in items] == ["r0"]
    declined, count = decisions.decisions_list(engine=engine, offset=0, limit=10, decision="decline")
    assert count == len(declined) and all(i["decision"] == "decline" for i in declined)


def test_concurrent_writers_lose_nothing(engine: sa.Engine, scorecard: CompiledScorecard) -> None:
    result = scorecard.score_one(GOOD_APPLICANT)

    def write(index: int) -> int:
        return decisions.decision_record(engine=engine, inputs=GOOD_APPLICANT, result=result,
                                         request_id=f"w{index}", channel="api")

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(write, range(200)))
    assert len(set(ids)) == 200
    assert decisions.decisions_count(engine=engine) == 200


def test_a_batch_and_single_writes_store_the_same_content(engine: sa.Engine, scorecard: CompiledScorecard) -> None:
    result = scorecard.score_one(GOOD_APPLICANT)
    single = decisions.decision_record(engine=engine, inputs=GOOD_APPLICANT, result=result, request_id="same",
                                       channel="api")
    assert decisions.decisions_record_batch(engine=engine, inputs=[GOOD_APPLICANT], results=[result],
                                            request_id="same", channel="api") == 1
    first, second = (decisions.decision_get(engine=engine, decision_id=i) for i in (single, single + 1))
    assert first is not None and second is not None
    different = {k for k in first if first[k] != second[k]} - {"id", "created_at"}
    assert different == {"batch_row"} and second["batch_row"] == 0


@pytest.mark.postgres
def test_concurrent_writers_lose_nothing_on_postgresql(scorecard: CompiledScorecard) -> None:
    from tests.credit_flask.support import postgres_database_url

    result = scorecard.score_one(GOOD_APPLICANT)
    with postgres_database_url() as url:
        engine = engine_create(url=url)
        try:
            decisions.decisions_tables_create(engine=engine)

            def write(index: int) -> int:
                return decisions.decision_record(engine=engine, inputs=GOOD_APPLICANT, result=result,
                                                 request_id=f"w{index}", channel="api")

            with ThreadPoolExecutor(max_workers=8) as pool:
                ids = list(pool.map(write, range(100)))
            assert len(set(ids)) == 100 and decisions.decisions_count(engine=engine) == 100
            stored = decisions.decision_get(engine=engine, decision_id=ids[42])  # the id RETURNING gave back
            assert stored is not None and stored["request_id"] == "w42" and stored["inputs"] == GOOD_APPLICANT
        finally:
            engine.dispose()
