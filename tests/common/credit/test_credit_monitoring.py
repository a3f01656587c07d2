"""Population stability index and its verdicts."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from common.credit.monitoring import psi_report, psi_value, psi_verdict
from common.credit.scorecard import CompiledScorecard
from common.registry import LoadedModel


def test_psi_matches_the_textbook_formula() -> None:
    expected, actual = [0.5, 0.3, 0.2], [0.4, 0.3, 0.3]
    by_hand = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.3 - 0.2) * math.log(0.3 / 0.2)
    assert psi_value(expected=expected, actual=actual) == pytest.approx(by_hand)
    assert psi_value(expected=expected, actual=expected) == pytest.approx(0.0)


@pytest.mark.parametrize(("value", "verdict"), [(0.0, "stable"), (0.099, "stable"), (0.1, "moderate shift"),
                                                (0.249, "moderate shift"), (0.25, "significant shift")])
def test_usual_thresholds(value: float, verdict: str) -> None:
    assert psi_verdict(value) == verdict


def test_training_like_applicants_are_stable_and_shifted_ones_are_flagged(
    champion: LoadedModel, scorecard: CompiledScorecard, applicants: pd.DataFrame
) -> None:
    reference = champion.metadata["monitoring"]
    same = psi_report(scorecard=scorecard, reference=reference, batch=scorecard.score_frame(applicants.sample(2000, random_state=1)))
    assert same["status"] == "ok"
    assert same["score"]["verdict"] == "stable"
    assert all(c["verdict"] == "stable" for c in same["characteristics"])

    shifted_rows = applicants.sample(2000, random_state=2).assign(Income=lambda f: f["Income"] * 3, Records="yes")
    shifted = psi_report(scorecard=scorecard, reference=reference, batch=scorecard.score_frame(shifted_rows))
    by_name = {c["name"]: c for c in shifted["characteristics"]}
    assert by_name["Income"]["verdict"] == "significant shift"
    assert by_name["Records"]["verdict"] == "significant shift"
    assert by_name["Home"]["verdict"] == "stable"
    assert shifted["characteristics"][0]["psi"] >= shifted["characteristics"][-1]["psi"]


def test_too_few_recent_applicants_is_reported_not_computed(
    champion: LoadedModel, scorecard: CompiledScorecard, applicants: pd.DataFrame
) -> None:
    report = psi_report(scorecard=scorecard, reference=champion.metadata["monitoring"],
                        batch=scorecard.score_frame(applicants.head(5)))
    assert report["status"] == "insufficient data"
    assert report["score"] is None


def test_rescaled_points_do_not_look_like_drift(champion: LoadedModel, applicants: pd.DataFrame) -> None:
    from common.credit.service import scorecard_from_model

    rescaled = scorecard_from_model(loaded=champion, policy_overrides={"base_points": 300, "points_to_double_odds": 50})
    report = psi_report(scorecard=rescaled, reference=champion.metadata["monitoring"],
                        batch=rescaled.score_frame(applicants.sample(2000, random_state=4)))
    assert report["score"]["psi"] < 0.02
