"""The recipe registers one complete, documented `recommender` version."""

from __future__ import annotations

from common.recommender.model import RecommenderModel, recommendation_list
from common.recommender.training import RECIPE
from common.registry import registry_from_settings
from common.settings import Settings
from common.training import TrainOptions, get_recipe, run_training


def test_recipe_trains_registers_and_documents_a_servable_model(isolated_settings: Settings) -> None:
    assert get_recipe("recommender") is RECIPE and RECIPE.models == ("recommender",)
    registry = registry_from_settings()
    result = run_training(scenario="recommender", registry=registry, quiet=True,
                          options=TrainOptions(quick=True, seed=1, extra={"max_users": "40"}))
    [version] = result.versions
    assert registry.current_version("recommender") == version.version
    meta = version.metadata
    assert meta["algorithm"] == "svd"
    assert {"rmse", "rmse_fold_in", "ndcg@10", "precision@10", "popularity_ndcg@10"} <= set(meta["metrics"])
    assert "KFold" in meta["evaluation"]["rating"]["protocol"]
    assert "stratified 75/25" in meta["evaluation"]["ranking"]["protocol"]
    assert meta["training_data"]["dataset"].startswith("movielens-small") and meta["training_data"]["users"] == 40
    assert {m["metric"] for m in result.metrics_rows} >= {"RMSE", "NDCG@10"}

    loaded = registry.load("recommender")
    assert all(type(a).__name__ == "memmap" for a in loaded.arrays.values())  # shared between workers
    model = RecommenderModel.from_loaded(loaded)
    assert isinstance(model.ease.base, type(loaded.arrays["ease_weights"]))  # a view on the map, not a copy
    assert len(recommendation_list(model=model, ratings={1: 5.0, 260: 4.0}, k=5)) == 5
