import math

import numpy as np
import pytest
from sklearn import metrics as skm

from common import evaluation as ev

Y = np.array([0, 0, 1, 1, 0, 1, 0, 1, 1, 0])
P = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.7, 0.55, 0.05])


def test_classification_metrics_agree_with_scikit_learn():
    assert ev.roc_auc(y_true=Y, y_score=P) == pytest.approx(skm.roc_auc_score(Y, P))
    assert ev.gini(y_true=Y, y_score=P) == pytest.approx(2 * skm.roc_auc_score(Y, P) - 1)
    assert ev.pr_auc(y_true=Y, y_score=P) == pytest.approx(skm.average_precision_score(Y, P))
    assert ev.brier_score(y_true=Y, y_prob=P) == pytest.approx(skm.brier_score_loss(Y, P))


def test_ks_is_the_largest_gap_between_cumulative_distributions():
    # Hand-computed: positives {0.35,0.55,0.7,0.8,0.9}, negatives {0.05,0.1,0.2,0.4,0.6};
    # at threshold 0.55: TPR 4/5, FPR 1/5 -> KS 0.6.
    assert ev.ks_statistic(y_true=Y, y_score=P) == pytest.approx(0.6)


def test_threshold_metrics_match_scikit_learn_at_the_threshold():
    result = ev.threshold_metrics(y_true=Y, y_prob=P, threshold=0.5)
    predicted = (P >= 0.5).astype(int)
    assert result["precision"] == pytest.approx(skm.precision_score(Y, predicted))
    assert result["recall"] == pytest.approx(skm.recall_score(Y, predicted))
    assert result["f1"] == pytest.approx(skm.f1_score(Y, predicted))


def test_best_threshold_for_precision_reaches_the_precision_with_most_recall():
    threshold = ev.best_threshold_for_precision(y_true=Y, y_prob=P, min_precision=1.0)
    assert threshold == pytest.approx(0.7)
    assert ev.threshold_metrics(y_true=Y, y_prob=P, threshold=threshold)["precision"] == 1.0


def test_calibration_table_counts_every_row_once():
    table = ev.calibration_table(y_true=Y, y_prob=P, bins=5)
    assert sum(row["count"] for row in table) == len(Y)
    top = table[-1]
    assert top["bin_low"] == pytest.approx(0.8) and top["observed_rate"] == 1.0


def test_regression_metrics_by_hand():
    assert ev.rmse(y_true=[1, 2, 3], y_pred=[1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert ev.mae(y_true=[1, 2, 3], y_pred=[2, 2, 1]) == pytest.approx(1.0)


def test_phm08_penalises_late_predictions_more_than_early_ones():
    late = ev.phm08_score(y_true=[50], y_pred=[60])
    early = ev.phm08_score(y_true=[50], y_pred=[40])
    assert late == pytest.approx(math.exp(1) - 1)
    assert early == pytest.approx(math.exp(10 / 13) - 1)
    assert late > early


def test_ranking_metrics_by_hand():
    recommended = [[1, 2, 3, 4], [5, 6, 7, 8]]
    relevant = [{2, 4}, {9}]
    assert ev.precision_at_k(recommended=recommended, relevant=relevant, k=4) == pytest.approx((2 / 4 + 0) / 2)
    assert ev.recall_at_k(recommended=recommended, relevant=relevant, k=4) == pytest.approx((1 + 0) / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3)
    assert ev.ndcg_at_k(recommended=recommended, relevant=relevant, k=4) == pytest.approx((dcg / ideal) / 2)
    assert ev.map_at_k(recommended=recommended, relevant=relevant, k=4) == pytest.approx(((1 / 2 + 2 / 4) / 2) / 2)
    assert ev.catalog_coverage(recommended=recommended, n_items=16, k=2) == pytest.approx(4 / 16)


def test_ndcg_matches_scikit_learn_for_binary_relevance():
    rng = np.random.default_rng(0)
    scores = rng.random((5, 30))
    truth = rng.random((5, 30)) < 0.2
    recommended = [list(np.argsort(-row)) for row in scores]
    relevant = [set(np.flatnonzero(row)) for row in truth]
    expected = skm.ndcg_score(truth.astype(float), scores, k=10)
    assert ev.ndcg_at_k(recommended=recommended, relevant=relevant, k=10) == pytest.approx(expected)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        ev.rmse(y_true=[1, 2], y_pred=[1])
