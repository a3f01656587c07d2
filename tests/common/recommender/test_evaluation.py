from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.recommender.evaluation import rating_kfold_evaluate, ranking_evaluate, stratified_split
from common.recommender.model import RecommenderModel


def test_stratified_split_keeps_three_quarters_of_every_user_and_is_reproducible(subset: dict) -> None:
    train, test = stratified_split(ratings=subset["ratings"], ratio=0.75, seed=42)
    again, _ = stratified_split(ratings=subset["ratings"], ratio=0.75, seed=42)
    assert train.equals(again)
    assert len(train) + len(test) == len(subset["ratings"])
    assert not set(zip(train["user_id"], train["movie_id"])) & set(zip(test["user_id"], test["movie_id"]))
    share = train.groupby("user_id").size() / subset["ratings"].groupby("user_id").size()
    assert share.between(0.70, 0.80).all()


def test_ranking_metrics_reward_a_perfect_oracle(subset_model: RecommenderModel, subset: dict) -> None:
    train, test = stratified_split(ratings=subset["ratings"], seed=1)
    truth = test.groupby("user_id")["movie_id"].apply(list).to_dict()
    owner = {frozenset(zip(g["movie_id"], g["rating"])): user for user, g in train.groupby("user_id")}
    oracle = ranking_evaluate(model=subset_model, train=train, test=test,
                              score_users=lambda model, rated: truth[owner[frozenset(rated.items())]][:10])
    assert oracle["precision@10"] == pytest.approx(
        np.mean([min(len(v), 10) / 10 for v in truth.values()]))
    assert oracle["ndcg@10"] == pytest.approx(1.0)


def test_surprise_kfold_protocol_reports_every_fold() -> None:
    rng = np.random.default_rng(0)
    ratings = pd.DataFrame({"user_id": rng.integers(1, 40, 800), "movie_id": rng.integers(1, 60, 800),
                            "rating": rng.integers(1, 6, 800).astype(float)}).drop_duplicates(["user_id", "movie_id"])
    result = rating_kfold_evaluate(ratings=ratings, algorithm="baselineonly", rating_scale=(1.0, 5.0))
    assert result["folds"] == 5 and "KFold(n_splits=5, random_state=0)" in result["protocol"]
    assert 0.5 < result["rmse"] < 2.0 and result["mae"] < result["rmse"]
