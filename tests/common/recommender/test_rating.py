"""Rating predictors exported from Surprise: the trained path reproduces Surprise, fold-in serves newcomers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.recommender.rating import (
    ALGORITHMS,
    UserRatings,
    algorithm_get,
    rating_model_fit,
    surprise_algorithm_create,
    surprise_dataset,
)


@pytest.fixture(scope="module")
def small(subset: dict[str, pd.DataFrame]) -> dict[str, object]:
    ratings = subset["ratings"][subset["ratings"]["user_id"] <= 60]
    keys = np.sort(subset["movies"]["movie_id"].to_numpy())
    return {"ratings": ratings, "keys": keys}


def user_ratings(ratings: pd.DataFrame, keys: np.ndarray, user: int) -> UserRatings:
    rows = ratings[ratings["user_id"] == user]
    index = np.searchsorted(keys, rows["movie_id"].to_numpy())
    order = np.argsort(index)
    return UserRatings(items=index[order].astype(np.int64), values=rows["rating"].to_numpy()[order])


@pytest.mark.parametrize("name", ["svd", "baselineonly", "knnbasic"])
def test_trained_users_get_exactly_surprises_estimate(small: dict, name: str) -> None:
    ratings, keys = small["ratings"], small["keys"]
    fitted = rating_model_fit(algorithm=name, ratings=ratings, item_keys=keys, rating_scale=(0.5, 5.0), seed=3, quick=True)
    fitted.predictor.bind(fitted.arrays)
    trainset = surprise_dataset(ratings=ratings, rating_scale=(0.5, 5.0)).build_full_trainset()
    reference = surprise_algorithm_create(name=name, seed=3, quick=True).fit(trainset)
    for user in (1, 7, 30):
        mine = user_ratings(ratings, keys, user)
        for movie in (1, 260, 2571, 296):
            item = int(np.searchsorted(keys, movie))
            estimate = fitted.predictor.estimate(user_key=user, ratings=mine, item=item)
            assert estimate.source == "trained"
            assert estimate.value == pytest.approx(reference.predict(user, movie).est, abs=1e-6)


def test_item_knn_neighbour_lists_reproduce_surprise_when_the_user_rated_k_neighbours(small: dict) -> None:
    ratings, keys = small["ratings"], small["keys"]
    fitted = rating_model_fit(algorithm="knnbaseline", ratings=ratings, item_keys=keys, rating_scale=(0.5, 5.0), seed=0)
    predictor = fitted.predictor
    predictor.bind(fitted.arrays)
    trainset = surprise_dataset(ratings=ratings, rating_scale=(0.5, 5.0)).build_full_trainset()
    reference = surprise_algorithm_create(name="knnbaseline", seed=0).fit(trainset)
    exact, approximate = [], []
    for user in (1, 15, 21, 30, 48):
        mine = user_ratings(ratings, keys, user)
        rated = set(mine.items.tolist())
        own = set(ratings.loc[ratings["user_id"] == user, "movie_id"])
        # (Movies the user rated are left out: Surprise counts a movie as its own neighbour.)
        for movie in [m for m in ratings["movie_id"].drop_duplicates() if m not in own][:60]:
            item = int(np.searchsorted(keys, movie))
            difference = abs(predictor.estimate(user_key=user, ratings=mine, item=item).value
                             - reference.predict(user, int(movie)).est)
            start, stop = int(predictor._indptr[item]), int(predictor._indptr[item + 1])
            stored = set(predictor._indices[start:stop].tolist())
            (exact if len(stored & rated) >= predictor.k else approximate).append(difference)
    assert exact and max(exact) < 1e-6
    # Users who rated fewer of the stored neighbours get an approximation of Surprise's value.
    assert np.mean(exact + approximate) < 0.1


def test_fold_in_of_a_new_user_moves_with_their_ratings(small: dict) -> None:
    ratings, keys = small["ratings"], small["keys"]
    fitted = rating_model_fit(algorithm="svd", ratings=ratings, item_keys=keys, rating_scale=(0.5, 5.0), seed=0, quick=True)
    fitted.predictor.bind(fitted.arrays)
    star_wars = [260, 1196, 1210]  # episodes IV-VI
    index = np.searchsorted(keys, star_wars)
    lover = UserRatings(items=index.astype(np.int64), values=np.array([5.0, 5.0, 5.0]))
    hater = UserRatings(items=index.astype(np.int64), values=np.array([1.0, 1.0, 1.0]))
    raiders = int(np.searchsorted(keys, 1198))
    loves = fitted.predictor.estimate(user_key=None, ratings=lover, item=raiders)
    hates = fitted.predictor.estimate(user_key=None, ratings=hater, item=raiders)
    assert loves.source == hates.source == "fold-in"
    assert loves.value > hates.value + 0.5
    # A trained user who rated since training is folded in, not served stale parameters.
    changed = user_ratings(ratings, keys, 1)
    changed = UserRatings(items=changed.items[:-1], values=changed.values[:-1])
    assert fitted.predictor.estimate(user_key=1, ratings=changed, item=raiders).source == "fold-in"


def test_a_movie_newer_than_the_model_gets_the_users_baseline(small: dict) -> None:
    ratings, keys = small["ratings"], small["keys"]
    fitted = rating_model_fit(algorithm="baselineonly", ratings=ratings, item_keys=keys, rating_scale=(0.5, 5.0), seed=0)
    fitted.predictor.bind(fitted.arrays)
    estimate = fitted.predictor.estimate(user_key=None, ratings=user_ratings(ratings, keys, 2), item=None)
    assert estimate.source == "baseline" and 0.5 <= estimate.value <= 5.0


def test_blend_is_the_weighted_mean_of_its_members(small: dict) -> None:
    ratings, keys = small["ratings"], small["keys"]
    blend = rating_model_fit(algorithm="blend", ratings=ratings, item_keys=keys, rating_scale=(0.5, 5.0), seed=0, quick=True)
    blend.predictor.bind(blend.arrays)
    mine = user_ratings(ratings, keys, 5)
    item = int(np.searchsorted(keys, 1))
    members = [m.estimate(user_key=5, ratings=mine, item=item).value for m, _ in blend.predictor.members]
    assert blend.predictor.estimate(user_key=5, ratings=mine, item=item).value == pytest.approx(np.mean(members))
    many = blend.predictor.estimate_many(user_key=5, ratings=mine, items=np.array([item, item + 1]))
    assert many[0] == pytest.approx(np.mean(members))


def test_algorithms_whose_matrices_would_not_fit_are_refused_with_advice() -> None:
    keys = np.arange(1, 8001, dtype=np.int64)
    ratings = pd.DataFrame({"user_id": [1, 2], "movie_id": [1, 2], "rating": [4.0, 3.0]})
    with pytest.raises(ValueError, match="SlopeOne .* MB"):
        rating_model_fit(algorithm="slopeone", ratings=ratings, item_keys=keys, rating_scale=(0.5, 5.0), seed=0)


def test_every_listed_algorithm_can_be_created_and_unknown_names_are_refused() -> None:
    for name, spec in ALGORITHMS.items():
        if spec.export != "blend":
            assert surprise_algorithm_create(name=name, seed=0) is not None
    with pytest.raises(LookupError, match="choose from"):
        algorithm_get(name="deep-magic")
