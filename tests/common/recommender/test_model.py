"""The served queries: recommendations (fold-in, content blend, explanations), popular, similar."""

from __future__ import annotations

import numpy as np
import pytest

from common.recommender import model as model_module
from common.recommender.content import genres_parse
from common.recommender.model import (
    ExtraMovie,
    RecommenderModel,
    popular_movie_list,
    rating_estimate,
    recommendation_list,
    recommendation_scores,
    similar_movie_list,
)
from common.recommender.ranking import top_n_bruteforce


def genres_of(subset: dict, movie: int) -> list[str]:
    movies = subset["movies"]
    return genres_parse(text=movies.loc[movies["movie_id"] == movie, "genres"].iloc[0])


def test_recommendations_exclude_rated_movies_and_respect_k(subset_model: RecommenderModel, ratings_of) -> None:
    rated = ratings_of(15)
    found = recommendation_list(model=subset_model, ratings=rated, k=25)
    assert len(found) == 25
    assert not {r.movie for r in found} & set(rated)
    assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)


def test_vectorised_top_n_equals_the_bruteforce_ranking_of_the_same_scores(subset_model: RecommenderModel, ratings_of) -> None:
    for user in (3, 15, 77):
        rated = ratings_of(user)
        known, _ = subset_model.user_ratings(rated)
        scores, _ = recommendation_scores(model=subset_model, ratings=known)
        expected = top_n_bruteforce(scores=scores, k=10, exclude=known.items)
        served = recommendation_list(model=subset_model, ratings=rated, k=10, explain=False)
        assert [r.movie for r in served] == [int(subset_model.item_keys[i]) for i in expected]


def test_new_ratings_change_recommendations_without_retraining(subset_model: RecommenderModel) -> None:
    animation = recommendation_list(model=subset_model, ratings={1: 5.0, 2355: 5.0, 3114: 5.0}, k=10)  # Toy Story, A Bug's Life, Toy Story 2
    horror = recommendation_list(model=subset_model, ratings={1: 5.0, 2355: 5.0, 3114: 5.0, 1258: 5.0, 1387: 5.0,
                                                              1997: 5.0, 1350: 5.0}, k=10)  # + Shining, Jaws, Exorcist, Omen
    assert {r.movie for r in animation} != {r.movie for r in horror}
    assert all(r.reason in ("collaborative", "content") for r in animation)


def test_explanations_name_the_users_own_rated_movies(subset_model: RecommenderModel, ratings_of) -> None:
    rated = ratings_of(21)
    found = recommendation_list(model=subset_model, ratings=rated, k=10)
    assert all(r.because for r in found)
    assert all(set(r.because) <= set(rated) for r in found)


def test_anonymous_users_get_damped_popularity_and_genre_filter_works(subset_model: RecommenderModel, subset: dict) -> None:
    found = recommendation_list(model=subset_model, ratings={}, k=10)
    assert all(r.reason == "popular" for r in found)
    popular = popular_movie_list(model=subset_model, k=10)
    assert [p.movie for p in popular] == [r.movie for r in found]
    assert [p.score for p in popular] == sorted((p.score for p in popular), reverse=True)
    comedies = popular_movie_list(model=subset_model, k=10, genre="Comedy")
    assert comedies and all("Comedy" in genres_of(subset, m.movie) for m in comedies)
    assert popular_movie_list(model=subset_model, k=10, genre="Space Opera") == []


def test_genre_filter_applies_to_personal_recommendations(subset_model: RecommenderModel, ratings_of, subset: dict) -> None:
    found = recommendation_list(model=subset_model, ratings=ratings_of(9), k=10, genre="Horror")
    assert found and all("Horror" in genres_of(subset, r.movie) for r in found)


def test_a_brand_new_movie_is_recommendable_at_once(subset_model: RecommenderModel) -> None:
    # A fan of recent animated children's comedies; a new one arrives, nobody has rated it.
    fan = {1: 5.0, 2355: 5.0, 3114: 5.0, 4886: 5.0, 6377: 5.0}
    newcomer = ExtraMovie(key=10_000_001, genres="Animation|Children|Comedy", year=2016)
    unrelated = ExtraMovie(key=10_000_002, genres="Documentary|War", year=1950)
    found = recommendation_list(model=subset_model, ratings=fan, k=10, genre="Animation", extra_movies=[newcomer, unrelated])
    assert newcomer.key in [r.movie for r in found]
    new = next(r for r in found if r.movie == newcomer.key)
    assert new.reason == "content" and set(new.because) <= set(fan)
    similar = similar_movie_list(model=subset_model, movie=newcomer, k=5, extra_movies=[newcomer, unrelated])
    assert similar and newcomer.key not in [s.movie for s in similar]
    popular = popular_movie_list(model=subset_model, k=100, extra_movies=[ExtraMovie(key=10_000_003, genres="Drama", year=2016, rating_count=40, rating_sum=200.0)])
    assert popular[0].movie == 10_000_003  # 40 five-star ratings: damped mean above every trained movie


def test_similar_movies_are_precomputed_neighbours(subset_model: RecommenderModel, subset: dict) -> None:
    similar = similar_movie_list(model=subset_model, movie=260, k=5)  # Star Wars IV
    titles = subset["movies"].set_index("movie_id").loc[[s.movie for s in similar], "title"].tolist()
    assert any("Star Wars" in t for t in titles)
    assert [s.similarity for s in similar] == sorted((s.similarity for s in similar), reverse=True)
    with pytest.raises(LookupError):
        similar_movie_list(model=subset_model, movie=99_999_999, k=5)


def test_rating_estimates_use_the_trained_rating_model(subset_model: RecommenderModel, ratings_of) -> None:
    estimate = rating_estimate(model=subset_model, user_key=4, ratings=ratings_of(4), movie=1)
    assert estimate.source == "trained" and 0.5 <= estimate.value <= 5.0
    folded = rating_estimate(model=subset_model, user_key=None, ratings={1: 5.0, 3114: 5.0}, movie=2355)
    assert folded.source == "fold-in"
    assert rating_estimate(model=subset_model, user_key=None, ratings={}, movie=10_000_001).source == "baseline"


def test_large_arrays_are_float32_and_the_model_holds_no_user_rows(subset_model: RecommenderModel) -> None:
    assert subset_model.ease.dtype == np.float32
    assert subset_model.ease.shape[0] == subset_model.warm_items.size < subset_model.n_items
    assert subset_model.similar_index.shape == (subset_model.n_items, subset_model.artifact.params.similar_k)


def test_blocked_ease_row_sums_equal_the_plain_sum_exactly(subset_model: RecommenderModel) -> None:
    rng = np.random.default_rng(0)
    for size in (1, 5, model_module.EASE_ROW_BLOCK, model_module.EASE_ROW_BLOCK + 1, 3 * model_module.EASE_ROW_BLOCK + 7):
        rows = rng.choice(subset_model.warm_items.size, size=min(size, subset_model.warm_items.size), replace=False)
        blocked = model_module._ease_row_sum(ease=subset_model.ease, rows=rows)
        assert np.array_equal(blocked, subset_model.ease[rows].sum(axis=0))


@pytest.mark.parametrize("user", [3, 15])  # a few ratings, 1,700 ratings
def test_the_fast_paths_recommend_exactly_what_the_plain_computation_does(
    subset_model: RecommenderModel, ratings_of, monkeypatch: pytest.MonkeyPatch, user: int
) -> None:
    """Blocked EASE sums and per-column selection in the explanations change no answer, not even a tie."""
    rated = ratings_of(user)
    queries = [{"k": 10}, {"k": 40, "genre": "Comedy"}, {"k": 100}]
    fast = [recommendation_list(model=subset_model, ratings=rated, **query) for query in queries]
    monkeypatch.setattr(model_module, "EASE_ROW_BLOCK", 10**9)  # one plain ease[rows].sum(axis=0)
    monkeypatch.setattr(model_module, "EXPLAIN_SORT_MAX_RATINGS", 10**9)  # one full stable argsort
    plain = [recommendation_list(model=subset_model, ratings=rated, **query) for query in queries]
    assert fast == plain
    monkeypatch.setattr(model_module, "EASE_ROW_BLOCK", 3)
    monkeypatch.setattr(model_module, "EXPLAIN_SORT_MAX_RATINGS", 0)
    assert [recommendation_list(model=subset_model, ratings=rated, **query) for query in queries] == plain
