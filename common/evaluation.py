"""Evaluation metrics for every scenario: classification, regression, rating and ranking.

Classification metrics defer to scikit-learn where it has them, so the figures
match what users compute themselves; the rest are small and tested against
hand-computed values.  All functions are keyword-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

ArrayLike = Sequence[float] | np.ndarray


def _arrays(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(y_true, dtype=float).ravel()
    score = np.asarray(y_score, dtype=float).ravel()
    if true.shape != score.shape:
        raise ValueError(f"y_true has {true.size} values, scores have {score.size}")
    return true, score


# --------------------------------------------------------------------------- classification
def roc_auc(*, y_true: ArrayLike, y_score: ArrayLike) -> float:
    true, score = _arrays(y_true, y_score)
    return float(skm.roc_auc_score(true, score))


def gini(*, y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Accuracy ratio used in credit scoring: 2 * AUC - 1."""
    return 2.0 * roc_auc(y_true=y_true, y_score=y_score) - 1.0


def pr_auc(*, y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the precision-recall curve as average precision (scikit-learn's definition)."""
    true, score = _arrays(y_true, y_score)
    return float(skm.average_precision_score(true, score))


def brier_score(*, y_true: ArrayLike, y_prob: ArrayLike) -> float:
    true, prob = _arrays(y_true, y_prob)
    return float(np.mean((prob - true) ** 2))


def ks_statistic(*, y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Kolmogorov-Smirnov distance between the score distributions of positives and negatives."""
    true, score = _arrays(y_true, y_score)
    fpr, tpr, _ = skm.roc_curve(true, score)
    return float(np.max(tpr - fpr))


def threshold_metrics(*, y_true: ArrayLike, y_prob: ArrayLike, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 when `y_prob >= threshold` is called positive."""
    true, prob = _arrays(y_true, y_prob)
    predicted = prob >= threshold
    positive = true == 1
    tp = float(np.sum(predicted & positive))
    fp = float(np.sum(predicted & ~positive))
    fn = float(np.sum(~predicted & positive))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": float(threshold), "precision": precision, "recall": recall, "f1": f1,
            "tp": tp, "fp": fp, "fn": fn, "tn": float(true.size - tp - fp - fn)}


def best_threshold_for_precision(*, y_true: ArrayLike, y_prob: ArrayLike, min_precision: float) -> float:
    """The lowest threshold whose precision is at least `min_precision` (most recall at that precision).

    Falls back to the threshold with the best precision when none reaches it.
    """
    true, prob = _arrays(y_true, y_prob)
    precision, _recall, thresholds = skm.precision_recall_curve(true, prob)
    precision = precision[:-1]  # the last point has no threshold
    reaching = np.flatnonzero(precision >= min_precision)
    if reaching.size:
        return float(thresholds[reaching[0]])
    return float(thresholds[int(np.argmax(precision))])


def calibration_table(*, y_true: ArrayLike, y_prob: ArrayLike, bins: int = 10) -> list[dict[str, float]]:
    """Observed vs predicted rate per equal-width probability bin (bins with no rows are left out)."""
    true, prob = _arrays(y_true, y_prob)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(prob, edges[1:-1], right=False), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if not mask.any():
            continue
        rows.append({"bin_low": float(edges[b]), "bin_high": float(edges[b + 1]), "count": int(mask.sum()),
                     "mean_predicted": float(prob[mask].mean()), "observed_rate": float(true[mask].mean())})
    return rows


def classification_report(*, y_true: ArrayLike, y_prob: ArrayLike, threshold: float = 0.5) -> dict[str, Any]:
    return {
        "roc_auc": roc_auc(y_true=y_true, y_score=y_prob),
        "gini": gini(y_true=y_true, y_score=y_prob),
        "pr_auc": pr_auc(y_true=y_true, y_score=y_prob),
        "ks": ks_statistic(y_true=y_true, y_score=y_prob),
        "brier": brier_score(y_true=y_true, y_prob=y_prob),
        **{k: v for k, v in threshold_metrics(y_true=y_true, y_prob=y_prob, threshold=threshold).items()
           if k in ("precision", "recall", "f1")},
    }


# --------------------------------------------------------------------------- regression / rating
def rmse(*, y_true: ArrayLike, y_pred: ArrayLike) -> float:
    true, pred = _arrays(y_true, y_pred)
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def mae(*, y_true: ArrayLike, y_pred: ArrayLike) -> float:
    true, pred = _arrays(y_true, y_pred)
    return float(np.mean(np.abs(pred - true)))


def phm08_score(*, y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """PHM08 challenge score: late predictions cost more (d = predicted - true)."""
    true, pred = _arrays(y_true, y_pred)
    d = pred - true
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


# --------------------------------------------------------------------------- ranking
# `recommended` holds one ranked list of item ids per user; `relevant` the matching sets of
# held-out relevant items.  Users with no relevant items are skipped (they cannot be scored).
def _ranked_pairs(recommended: Sequence[Sequence[Any]], relevant: Sequence[set[Any]]) -> list[tuple[Sequence[Any], set[Any]]]:
    if len(recommended) != len(relevant):
        raise ValueError(f"{len(recommended)} ranked lists for {len(relevant)} users")
    return [(list(r), set(s)) for r, s in zip(recommended, relevant, strict=True) if s]


def precision_at_k(*, recommended: Sequence[Sequence[Any]], relevant: Sequence[set[Any]], k: int) -> float:
    pairs = _ranked_pairs(recommended, relevant)
    return float(np.mean([len(set(r[:k]) & s) / k for r, s in pairs])) if pairs else 0.0


def recall_at_k(*, recommended: Sequence[Sequence[Any]], relevant: Sequence[set[Any]], k: int) -> float:
    pairs = _ranked_pairs(recommended, relevant)
    return float(np.mean([len(set(r[:k]) & s) / len(s) for r, s in pairs])) if pairs else 0.0


def ndcg_at_k(*, recommended: Sequence[Sequence[Any]], relevant: Sequence[set[Any]], k: int) -> float:
    """Binary-relevance NDCG@k: DCG of the list over the DCG of an ideal list of the user's relevant items."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    values = []
    for ranked, truth in _ranked_pairs(recommended, relevant):
        gains = np.array([1.0 if item in truth else 0.0 for item in ranked[:k]])
        dcg = float(np.sum(gains * discounts[: gains.size]))
        ideal = float(np.sum(discounts[: min(len(truth), k)]))
        values.append(dcg / ideal)
    return float(np.mean(values)) if values else 0.0


def map_at_k(*, recommended: Sequence[Sequence[Any]], relevant: Sequence[set[Any]], k: int) -> float:
    """Mean average precision at k (normalised by min(|relevant|, k))."""
    values = []
    for ranked, truth in _ranked_pairs(recommended, relevant):
        hits, total = 0, 0.0
        for position, item in enumerate(ranked[:k], start=1):
            if item in truth:
                hits += 1
                total += hits / position
        values.append(total / min(len(truth), k))
    return float(np.mean(values)) if values else 0.0


def catalog_coverage(*, recommended: Sequence[Sequence[Any]], n_items: int, k: int) -> float:
    """Share of the catalogue that appears in at least one top-k list."""
    shown = {item for ranked in recommended for item in list(ranked)[:k]}
    return len(shown) / n_items if n_items else 0.0
