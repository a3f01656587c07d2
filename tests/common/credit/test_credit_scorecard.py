"""The scorecard's arithmetic: points scaling, compiled path = pipeline, reasons, grades, decisions, monotonicity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from common.credit.scorecard import ApplicantInvalidError, CompiledScorecard, ScorePolicy
from common.credit.service import applicant_schema, applicant_validate, scorecard_from_model
from common.registry import LoadedModel
from tests.credit_flask.support import GOOD_APPLICANT, applicant_records


def test_default_scaling_puts_600_points_at_50_to_1_and_20_points_double_the_odds() -> None:
    policy = ScorePolicy()
    assert policy.offset + policy.factor * math.log(50) == pytest.approx(600)
    assert policy.factor * math.log(100) - policy.factor * math.log(50) == pytest.approx(20)


def test_score_is_offset_plus_factor_times_log_odds(scorecard: CompiledScorecard) -> None:
    result = scorecard.score_one(GOOD_APPLICANT)
    pd_value = result["probability_of_default"]
    expected = scorecard.policy.offset + scorecard.policy.factor * math.log((1 - pd_value) / pd_value)
    assert result["score"] == round(expected)


def test_points_of_the_characteristics_add_up_to_the_score(scorecard: CompiledScorecard) -> None:
    result = scorecard.score_values(scorecard.validate(GOOD_APPLICANT)[0], with_points=True)
    assert sum(result["points"].values()) == pytest.approx(result["score"], abs=0.5 + 0.05 * len(result["points"]))


def test_rescaling_moves_the_score_but_never_the_probability(champion: LoadedModel) -> None:
    default = scorecard_from_model(loaded=champion).score_one(GOOD_APPLICANT)
    rescaled = scorecard_from_model(
        loaded=champion, policy_overrides={"base_points": 500, "base_odds": 20, "points_to_double_odds": 40}
    ).score_one(GOOD_APPLICANT)
    assert rescaled["probability_of_default"] == pytest.approx(default["probability_of_default"], abs=1e-12)
    odds = (1 - default["probability_of_default"]) / default["probability_of_default"]
    assert rescaled["score"] == round(500 + 40 / math.log(2) * math.log(odds / 20))


def test_compiled_path_equals_the_pipeline_on_1000_applicants(
    champion: LoadedModel, scorecard: CompiledScorecard, applicants: pd.DataFrame
) -> None:
    rows = applicants.sample(1000, random_state=7)
    pipeline = champion.artifact.predict_proba(rows)[:, 1]
    fast = np.array([scorecard.score_one(r)["probability_of_default"] for r in applicant_records(rows)])
    batch = scorecard.score_frame(rows).pd
    assert np.max(np.abs(fast - pipeline)) < 1e-9
    assert np.max(np.abs(batch - pipeline)) < 1e-9


def test_batch_results_match_single_results_row_for_row(scorecard: CompiledScorecard, applicants: pd.DataFrame) -> None:
    rows = applicants.sample(300, random_state=3)
    batch = scorecard.score_frame(rows).records()
    singles = [scorecard.score_one(r) for r in applicant_records(rows)]
    for one, many in zip(singles, batch, strict=True):
        assert many is not None
        assert (many["score"], many["grade"], many["decision"]) == (one["score"], one["grade"], one["decision"])
        assert many["reasons"] == one["reasons"]


def test_reasons_are_the_characteristics_that_cost_most_points_in_order(
    scorecard: CompiledScorecard, applicants: pd.DataFrame
) -> None:
    lines = {line.name: line for line in scorecard.characteristics}
    for record in applicant_records(applicants.sample(200, random_state=11)):
        result = scorecard.score_values(scorecard.validate(record)[0], with_points=True)
        lost = {name: lines[name].max_points - points for name, points in result["points"].items()}
        reasons = result["reasons"]
        assert len(reasons) <= 4
        assert [r["points_lost"] for r in reasons] == sorted((r["points_lost"] for r in reasons), reverse=True)
        ranked = sorted(lost.values(), reverse=True)
        for position, reason in enumerate(reasons):
            assert reason["points_lost"] == pytest.approx(ranked[position], abs=0.11)
            assert reason["text"] and reason["code"] == reason["characteristic"].upper()


def test_a_declined_applicant_is_told_why_in_plain_language(scorecard: CompiledScorecard) -> None:
    risky = {**GOOD_APPLICANT, "Records": "yes", "Job": "partime", "Seniority": 0, "Income": 40, "Amount": 2000,
             "Price": 2100, "Assets": 0}
    result = scorecard.score_one(risky)
    assert result["decision"] == "decline"
    texts = " ".join(r["text"] for r in result["reasons"])
    assert "Previous default records is \u201cyes\u201d" in texts
    assert "Years with current employer is low" in texts


@pytest.mark.parametrize(
    ("field", "grid", "risk_rises"),
    [("Income", [0, 20, 50, 80, 100, 150, 250, 500, 1000, 5000], False),
     ("Seniority", [0, 1, 2, 5, 10, 20, 40], False),
     ("Assets", [0, 1000, 3000, 5000, 10000, 100000], False),
     ("Amount", [100, 500, 800, 1000, 1500, 3000, 8000], True)],
)
def test_scorecard_is_monotone_in_its_main_characteristics(
    scorecard: CompiledScorecard, applicants: pd.DataFrame, field: str, grid: list[int], risk_rises: bool
) -> None:
    for record in applicant_records(applicants.sample(150, random_state=5)):
        record["Price"] = max(record["Price"], 8000) if field == "Amount" else record["Price"]
        pds = [scorecard.score_one({**record, field: value})["probability_of_default"] for value in grid]
        steps = np.diff(pds)
        if risk_rises:
            assert np.all(steps >= -1e-12), (field, record, pds)
        else:
            assert np.all(steps <= 1e-12), (field, record, pds)


def test_previous_default_records_never_lower_the_risk(scorecard: CompiledScorecard, applicants: pd.DataFrame) -> None:
    for record in applicant_records(applicants.sample(100, random_state=9)):
        clean = scorecard.score_one({**record, "Records": "no"})["probability_of_default"]
        flagged = scorecard.score_one({**record, "Records": "yes"})["probability_of_default"]
        assert flagged > clean


def test_grade_bad_rates_rise_from_a_to_e_on_held_out_data(champion: LoadedModel) -> None:
    grades = champion.metadata["grades"]
    assert [g["grade"] for g in grades] == ["A", "B", "C", "D", "E"]
    rates = [g["bad_rate"] for g in grades]
    assert all(later > earlier for earlier, later in zip(rates, rates[1:], strict=False))
    assert sum(g["count"] for g in grades) == champion.metadata["training_data"]["rows"]["applicants"]
    assert [g["pd_to"] for g in grades[:-1]] == [g["pd_from"] for g in grades[1:]]


def test_grades_follow_the_probability_bands(scorecard: CompiledScorecard, applicants: pd.DataFrame) -> None:
    batch = scorecard.score_frame(applicants.head(500))
    for record in batch.records():
        assert record is not None
        band = next(g for g in scorecard.grades if g.grade == record["grade"])
        assert band.pd_from <= record["probability_of_default"] <= band.pd_to


def test_decision_follows_the_configured_cut_offs(champion: LoadedModel) -> None:
    strict = scorecard_from_model(loaded=champion, policy_overrides={"approve_below": 0.01, "decline_from": 0.02})
    lenient = scorecard_from_model(loaded=champion, policy_overrides={"approve_below": 0.98, "decline_from": 0.99})
    assert strict.score_one(GOOD_APPLICANT)["decision"] == "decline"
    assert lenient.score_one(GOOD_APPLICANT)["decision"] == "approve"
    middle = scorecard_from_model(loaded=champion)
    pd_value = middle.score_one(GOOD_APPLICANT)["probability_of_default"]
    window = scorecard_from_model(loaded=champion, policy_overrides={"approve_below": pd_value / 2,
                                                                      "decline_from": min(pd_value * 2, 1.0)})
    assert window.score_one(GOOD_APPLICANT)["decision"] == "review"


def test_policy_refuses_cut_offs_in_the_wrong_order() -> None:
    with pytest.raises(ValueError, match="cut-offs"):
        ScorePolicy(approve_below=0.5, decline_from=0.2)


BAD_PAYLOADS = [
    {k: v for k, v in GOOD_APPLICANT.items() if k != "Age"},
    {**GOOD_APPLICANT, "Age": "thirty"},
    {**GOOD_APPLICANT, "Age": 12, "Amount": 10**9},
    {**GOOD_APPLICANT, "Home": "castle", "Records": None},
    {**GOOD_APPLICANT, "Time": 12.5, "Income": True, "Extra": 1},
]


@pytest.mark.parametrize("payload", BAD_PAYLOADS)
def test_compiled_validator_and_api_schema_name_the_same_fields(scorecard: CompiledScorecard, payload: dict) -> None:
    with pytest.raises(ApplicantInvalidError) as caught:
        scorecard.score_one(payload)
    compiled_fields = {e["field"] for e in caught.value.errors}
    _applicant, schema_errors = applicant_validate(data=payload, signature=scorecard.signature)
    schema_fields = {e["field"] for e in schema_errors}
    # the schema treats an explicit null like a missing optional field; Records is required either way
    assert compiled_fields == schema_fields
    assert len(compiled_fields) >= 1


def test_nullable_inputs_may_be_left_out(scorecard: CompiledScorecard) -> None:
    nullable = [f.name for f in scorecard.signature.features if f.nullable]
    assert "Income" in nullable
    partial = {k: v for k, v in GOOD_APPLICANT.items() if k not in nullable}
    result = scorecard.score_one(partial)
    assert any(r["code"] == "INCOME" or "not provided" in r["text"] for r in result["reasons"])
    schema = applicant_schema(scorecard.signature)
    assert schema.model_validate(partial)


def test_batch_reports_bad_rows_and_scores_the_rest(scorecard: CompiledScorecard) -> None:
    frame = pd.DataFrame(
        [GOOD_APPLICANT, {**GOOD_APPLICANT, "Age": "x", "Home": "castle"}, {**GOOD_APPLICANT, "Time": ""},
         {**GOOD_APPLICANT, "Income": ""}],
        dtype=object,
    )
    batch = scorecard.score_frame(frame)
    assert sorted(batch.row_errors) == [1, 2]
    assert {e["field"] for e in batch.row_errors[1]} == {"Age", "Home"}
    assert batch.row_errors[2] == [{"field": "Time", "message": "Field required"}]
    records = batch.records()
    assert records[1] is None and records[2] is None
    assert records[0] == scorecard.score_one(GOOD_APPLICANT)
    assert records[3] is not None
