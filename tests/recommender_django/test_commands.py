"""Management commands: load_movielens, train_recommender, api_token (and `mlapps tokens` reaching it)."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from common.auth import token_hash
from common.registry import registry_from_settings
from common.settings import Settings
from recommender_django.accounts.models import ApiToken
from recommender_django.movies import importing
from recommender_django.movies.models import ImportedRater, Movie, Rating

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- load_movielens
def test_the_slice_was_loaded_with_movielens_ids_and_raters_who_cannot_log_in(slice_frames: dict) -> None:
    assert Movie.objects.count() == len(slice_frames["movies"])
    toy_story = Movie.objects.get(pk=1)
    assert (toy_story.movielens_id, toy_story.year, toy_story.source) == (1, 1995, "movielens-small")
    assert toy_story.genre_list == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert Rating.objects.count() == len(slice_frames["ratings"])
    rater = ImportedRater.objects.select_related("user").get(movielens_user_id=7)
    assert not rater.user.has_usable_password()
    expected = slice_frames["ratings"].query("user_id == 7").set_index("movie_id")["rating"].to_dict()
    assert dict(Rating.objects.filter(user=rater.user).values_list("movie_id", "value")) == expected


def test_loading_again_adds_only_what_is_missing(slice_frames: dict) -> None:
    Rating.objects.filter(user__imported_rater__movielens_user_id=3).delete()
    summary = importing.movielens_import(dataset="movielens-small", frames=slice_frames)
    assert summary.movies_created == 0 and summary.users_created == 0
    assert summary.ratings_created == len(slice_frames["ratings"].query("user_id == 3"))
    assert importing.movielens_import(dataset="movielens-small", frames=slice_frames).ratings_created == 0
    assert Rating.objects.count() == len(slice_frames["ratings"])


def test_the_command_skips_a_loaded_database_and_refuses_a_second_dataset() -> None:
    out, _ = run("load_movielens", "--if-empty")
    assert "nothing to do" in out
    with pytest.raises(CommandError, match="--replace"):
        run("load_movielens", "--dataset", "movielens-100k")


def test_replace_swaps_the_dataset_and_keeps_admin_movies(monkeypatch: pytest.MonkeyPatch) -> None:
    Movie.objects.create(title="Added by hand", genres="Drama")
    tiny = {
        "movies": pd.DataFrame({"movie_id": [1, 2], "title": ["Toy Story (1995)", "GoldenEye (1995)"],
                                "year": pd.array([1995, 1995], dtype="Int64"), "genres": ["Animation", "Action"]}),
        "ratings": pd.DataFrame({"user_id": [1, 1, 2], "movie_id": [1, 2, 1], "rating": [5.0, 3.0, 4.0],
                                 "timestamp": [0, 0, 0]}),
    }
    monkeypatch.setattr(importing, "load_dataset", lambda name: tiny)
    out, err = run("load_movielens", "--dataset", "movielens-100k", "--replace")
    assert "2 movies, 2 users, 3 ratings" in out and "ratings: 3/3" in err
    assert set(Movie.objects.values_list("source", flat=True)) == {"movielens-100k", "admin"}
    assert not ImportedRater.objects.filter(dataset="movielens-small").exists()
    assert Rating.objects.count() == 3


# --------------------------------------------------------------------------- train_recommender
def test_train_command_registers_a_version_trained_on_the_database(isolated_settings: Settings) -> None:
    out, err = run("train_recommender", "--quick", "--algorithm", "baselineonly")
    registry = registry_from_settings()
    version = registry.get("recommender")
    assert "registered recommender@1 (current)" in out and "NDCG@10" in out and "ratings by" in err
    assert version.metadata["algorithm"] == "baselineonly"
    assert version.metadata["training_data"]["ratings"] == Rating.objects.count()
    assert version.metadata["training_data"]["dataset"].startswith("database:")
    out, _ = run("train_recommender", "--if-missing")
    assert "nothing to do" in out and registry.current_version("recommender") == "1"
    with pytest.raises(CommandError):
        run("train_recommender", "--algorithm", "deep-magic")


# --------------------------------------------------------------------------- api_token
def test_api_token_create_list_revoke_stores_only_the_hash() -> None:
    token, err = run("api_token", "create", "ci-bot")
    token = token.strip()
    assert token.startswith("mlapps_") and "created user 'ci-bot'" in err
    row = ApiToken.objects.get(name="ci-bot")
    assert row.token_sha256 == token_hash(token) and token not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert not get_user_model().objects.get(username="ci-bot").has_usable_password()
    listing, _ = run("api_token", "list")
    assert "ci-bot" in listing and token not in listing
    out, _ = run("api_token", "revoke", "ci-bot")
    assert "revoked 1 token" in out
    with pytest.raises(CommandError, match="no live token"):
        run("api_token", "revoke", "ci-bot")
    with pytest.raises(CommandError, match="needs a NAME"):
        run("api_token", "create")


def test_mlapps_tokens_runs_the_django_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from common import cli

    calls: list[list[str]] = []
    monkeypatch.setattr(cli.subprocess, "call", lambda argv: calls.append(argv) or 0)
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    assert cli.main(["tokens", "create", "recommender", "alice"]) == 0
    [argv] = calls
    assert argv[1:] == ["-m", "django", "api_token", "create", "alice",
                        "--settings=recommender_django.settings.development"]
