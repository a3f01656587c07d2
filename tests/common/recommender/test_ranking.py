from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from common.recommender.ranking import (
    ease_fit,
    interactions_build,
    popularity_damped_mean,
    top_n,
    top_n_bruteforce,
)


def random_scores(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 20, size=n).astype(np.float32)  # many ties on purpose


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [1, 10, 57])
def test_vectorised_top_n_equals_bruteforce_with_ties_exclusions_and_infinities(seed: int, k: int) -> None:
    scores = random_scores(seed, 400)
    rng = np.random.default_rng(seed + 100)
    scores[rng.choice(400, 30, replace=False)] = -np.inf
    exclude = rng.choice(400, 50, replace=False)
    assert top_n(scores=scores, k=k, exclude=exclude).tolist() == top_n_bruteforce(scores=scores, k=k, exclude=exclude).tolist()


def test_top_n_returns_fewer_when_fewer_items_qualify() -> None:
    scores = np.array([1.0, -np.inf, 3.0, np.nan])
    assert top_n(scores=scores, k=10).tolist() == [2, 0]
    assert top_n(scores=scores, k=10, exclude=np.array([0, 2])).tolist() == []
    assert top_n(scores=scores, k=0).tolist() == []


def test_ease_matches_its_closed_form_and_never_scores_an_item_by_itself() -> None:
    rng = np.random.default_rng(0)
    dense = (rng.random((60, 12)) < 0.3).astype(np.float32)
    weights = ease_fit(interactions=sp.csr_matrix(dense), l2=5.0)
    gram = dense.T.astype(np.float64) @ dense + 5.0 * np.eye(12)
    precision = np.linalg.inv(gram)
    expected = -precision / np.diag(precision)
    np.fill_diagonal(expected, 0.0)
    assert np.allclose(weights, expected, atol=1e-5)
    assert np.all(np.diag(weights) == 0)


def test_ease_recommends_what_co_occurs() -> None:
    # Users who watched 0 also watched 1; nobody watched 0 with 2.
    rows = [[1, 1, 0, 0]] * 20 + [[0, 0, 1, 1]] * 20
    weights = ease_fit(interactions=sp.csr_matrix(np.array(rows, dtype=np.float32)), l2=1.0)
    scores = np.array([1, 0, 0, 0], dtype=np.float32) @ weights
    assert scores[1] > 0.5 > scores[2]


def test_interactions_are_binary_whatever_the_stars() -> None:
    matrix = interactions_build(user_index=np.array([0, 0, 1]), item_index=np.array([2, 2, 0]), n_users=2, n_items=3)
    assert matrix.toarray().tolist() == [[0, 0, 1], [1, 0, 0]]


def test_damped_mean_prefers_many_good_ratings_to_a_few_perfect_ones() -> None:
    popularity = popularity_damped_mean(counts=np.array([2, 300, 0]), sums=np.array([10.0, 1320.0, 0.0]),
                                        global_mean=3.5, damping=10.0)
    assert popularity[1] > popularity[0]  # 4.4 x 300 beats 5.0 x 2
    assert popularity[2] == pytest.approx(3.5)  # no ratings: the prior
