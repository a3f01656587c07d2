from __future__ import annotations

import numpy as np

from common.recommender.content import (
    ContentSpace,
    content_features,
    content_profile,
    genre_membership,
    genre_vocabulary_build,
    genres_parse,
)

SPACE = ContentSpace(genres=("Action", "Animation", "Children", "Comedy", "Drama", "Romance"))


def test_genres_parse_ignores_the_no_genre_marker_and_blanks() -> None:
    assert genres_parse(text="Comedy|Drama") == ["Comedy", "Drama"]
    assert genres_parse(text="(no genres listed)") == []
    assert genres_parse(text="") == []
    assert genre_vocabulary_build(genre_texts=["Drama|Comedy", None, "Action|Drama"]) == ("Action", "Comedy", "Drama")


def test_features_are_unit_length_and_same_genres_and_era_are_closest() -> None:
    features = content_features(
        space=SPACE,
        genre_texts=["Animation|Children|Comedy", "Animation|Children|Comedy", "Animation|Children|Comedy", "Drama|Romance", ""],
        years=[1995, 1999, 1950, 1995, None],
    )
    assert np.allclose(np.linalg.norm(features[:4], axis=1), 1.0, atol=1e-6)
    assert not features[4].any()  # nothing known about it: no similarity to anything
    similarity = features @ features[0]
    assert similarity[1] > similarity[2] > similarity[3]  # same genres: nearby year beats distant year


def test_unknown_genres_of_new_movies_are_ignored_not_errors() -> None:
    features = content_features(space=SPACE, genre_texts=["Comedy|Space Opera"], years=[2020])
    comedy = content_features(space=SPACE, genre_texts=["Comedy"], years=[2020])
    assert np.allclose(features, comedy)
    member = genre_membership(space=SPACE, genre_texts=["Comedy|Drama", "Space Opera"])
    assert member[0].tolist() == [False, False, False, True, True, False]
    assert not member[1].any()


def test_profile_leans_towards_the_highly_rated_movies() -> None:
    features = content_features(space=SPACE, genre_texts=["Action", "Romance"], years=[2000, 2000])
    profile = content_profile(features=features, weights=np.array([3.0, 0.25]))
    assert float(features[0] @ profile) > float(features[1] @ profile)
    assert np.isclose(np.linalg.norm(profile), 1.0, atol=1e-6)
