"""Population stability: how far recent applicants have drifted from the training sample.

The training sample's distributions are stored with the model (score deciles
and the share of every scorecard bin); recent decisions are re-binned with the
served scorecard and compared bin by bin with the population stability index
PSI = sum((actual - expected) * ln(actual / expected)).  Usual reading:
below 0.1 stable, 0.1 to 0.25 a moderate shift worth watching, above 0.25 a
significant shift (investigate, consider retraining).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from common.credit.scorecard import BatchResult, CompiledScorecard

SHARE_FLOOR = 1e-4  # an empty bin would make the log infinite
MIN_ROWS = 30


def psi_verdict(value: float) -> str:
    if value < 0.1:
        return "stable"
    if value < 0.25:
        return "moderate shift"
    return "significant shift"


def psi_value(*, expected: Sequence[float], actual: Sequence[float]) -> float:
    e = np.maximum(np.asarray(expected, dtype=float), SHARE_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), SHARE_FLOOR)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def _shares(index: np.ndarray, bins: int) -> list[float]:
    counts = np.bincount(index[index >= 0], minlength=bins).astype(float)
    total = counts.sum()
    return (counts / total).tolist() if total else [0.0] * bins


def _log_odds(scorecard: CompiledScorecard, points: np.ndarray) -> np.ndarray:
    return (points - scorecard.policy.offset) / scorecard.policy.factor


def reference_distributions(*, scorecard: CompiledScorecard, batch: BatchResult) -> dict[str, Any]:
    """The training sample's score deciles and bin shares, stored in the model metadata."""
    # Deciles in log-odds, not points: a deployment may rescale the points (see ScorePolicy).
    scores = _log_odds(scorecard, batch.score_points[batch.valid])
    inner = np.unique(np.quantile(scores, np.linspace(0.1, 0.9, 9)))
    edges = [float(e) for e in inner]
    score_index = np.searchsorted(edges, scores, side="right")
    characteristics = {}
    for j, line in enumerate(scorecard.characteristics):
        characteristics[line.name] = {
            "label": line.label, "bins": list(line.bin_labels),
            "shares": _shares(batch.chosen[batch.valid, j], len(line.bin_labels)),
        }
    return {
        "rows": int(scores.size),
        "score": {"log_odds_edges": edges, "shares": _shares(score_index, len(edges) + 1)},
        "characteristics": characteristics,
    }


def psi_report(*, scorecard: CompiledScorecard, reference: Mapping[str, Any], batch: BatchResult | None) -> dict[str, Any]:
    """PSI of the score and of every characteristic between the training sample and `batch` (recent applicants)."""
    rows = int(batch.valid.sum()) if batch is not None else 0
    report: dict[str, Any] = {"reference_rows": reference.get("rows", 0), "recent_rows": rows,
                              "thresholds": {"moderate": 0.1, "significant": 0.25}}
    if batch is None or rows < MIN_ROWS:
        report.update(status="insufficient data",
                      detail=f"{rows} recent applications; PSI needs at least {MIN_ROWS}",
                      score=None, characteristics=[])
        return report
    valid = batch.valid
    score_edges = reference["score"]["log_odds_edges"]
    score_index = np.searchsorted(score_edges, _log_odds(scorecard, batch.score_points[valid]), side="right")
    actual = _shares(score_index, len(score_edges) + 1)
    expected = reference["score"]["shares"]
    score_psi = psi_value(expected=expected, actual=actual)
    policy = scorecard.policy
    bounds = ["", *[f"{policy.offset + policy.factor * e:.0f}" for e in score_edges], ""]
    score_bins = [
        {"bin": (f"below {bounds[i + 1]}" if i == 0 else f"{bounds[i]} or more" if i == len(expected) - 1
                 else f"{bounds[i]} to under {bounds[i + 1]}"),
         "expected": expected[i], "actual": actual[i]}
        for i in range(len(expected))
    ]
    characteristics = []
    names = [line.name for line in scorecard.characteristics]
    for name, ref in reference["characteristics"].items():
        if name not in names:
            continue
        j = names.index(name)
        shares = _shares(batch.chosen[valid, j], len(ref["shares"]))
        value = psi_value(expected=ref["shares"], actual=shares)
        characteristics.append({
            "name": name, "label": ref.get("label") or name, "psi": value, "verdict": psi_verdict(value),
            "bins": [{"bin": b, "expected": e, "actual": a} for b, e, a in zip(ref["bins"], ref["shares"], shares, strict=True)],
        })
    characteristics.sort(key=lambda item: -item["psi"])
    report.update(status="ok", score={"psi": score_psi, "verdict": psi_verdict(score_psi), "bins": score_bins},
                  characteristics=characteristics)
    return report
