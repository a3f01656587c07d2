"""Cached recommendations: one cheap query per repeated request, never a stale answer."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from recommender_django.api import endpoints
from recommender_django.modelops.recommendations import user_recommendations
from recommender_django.modelops.serving import recommender_service
from recommender_django.movies import selectors
from recommender_django.movies.models import Movie, Rating
from recommender_django.movies.selectors import user_rating_snapshot, user_rating_state

pytestmark = pytest.mark.django_db


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def rate(client: Client, token: str, movie: int, value: float) -> None:
    response = client.post("/api/ratings", {"movie_id": movie, "value": value}, content_type="application/json",
                           **bearer(token))
    assert response.status_code in (200, 201), response.content


def caches_clear() -> None:
    """What a freshly started worker has: nothing cached."""
    recommender_service().caches_clear()
    endpoints._RENDERED.clear()


@pytest.fixture
def catalogue_checked_every_request(settings) -> None:  # noqa: ANN001
    settings.RECOMMENDER_CATALOGUE_CHECK_SECONDS = 0.0


@pytest.fixture
def catalogue_checked_once(settings) -> None:  # noqa: ANN001
    """The movie table checked at the first request only (it is checked once a second by default)."""
    settings.RECOMMENDER_CATALOGUE_CHECK_SECONDS = 3600.0


def test_a_repeated_request_costs_one_query_and_answers_the_same(
    client: Client, served, rater_id: int, catalogue_checked_once: None  # noqa: ANN001
) -> None:
    path = f"/api/users/{rater_id}/recommendations?k=10"
    caches_clear()
    cold = client.get(path)
    with CaptureQueriesContext(connection) as queries:
        warm = client.get(path)
    assert warm.status_code == 200 and warm.json() == cold.json()
    assert len(queries.captured_queries) == 1  # who the user is and their ratings' version, in one
    caches_clear()
    assert client.get(path).json() == warm.json()  # a cold computation agrees with the cached answer


def test_every_kind_of_rating_write_changes_the_next_answer(client: Client, served, token_for) -> None:  # noqa: ANN001
    token, user = token_for("busy-rater")
    path = f"/api/users/{user.pk}/recommendations?k=10"
    for movie in (1, 3114, 2355):
        rate(client, token, movie, 5)
    first = client.get(path, **bearer(token)).json()
    assert client.get(path, **bearer(token)).json() == first  # cached

    rate(client, token, 588, 5)  # a new rating
    added = client.get(path, **bearer(token)).json()
    assert added["rated"] == 4 and 588 not in [i["movie"]["id"] for i in added["items"]]

    rate(client, token, 1, 0.5)  # a changed rating: same count, a newer stamp
    changed = client.get(path, **bearer(token)).json()
    assert changed["rated"] == 4 and changed != added  # the taste profile moved: other scores

    assert client.delete("/api/ratings/588", **bearer(token)).status_code == 204  # a removed rating
    removed = client.get(path, **bearer(token)).json()
    assert removed["rated"] == 3

    Rating.objects.create(user=user, movie_id=364, value=5)  # written elsewhere (another worker, the admin)
    assert client.get(path, **bearer(token)).json()["rated"] == 4


def test_cached_answers_are_per_user_k_and_genre(client: Client, served, rater_id: int) -> None:  # noqa: ANN001
    base = f"/api/users/{rater_id}/recommendations"
    ten = client.get(base, {"k": 10}).json()
    five = client.get(base, {"k": 5}).json()
    horror = client.get(base, {"k": 5, "genre": "Horror"}).json()
    assert len(ten["items"]) == 10 and five["items"] == ten["items"][:5]
    assert horror["items"] != five["items"] and all("Horror" in i["movie"]["genres"] for i in horror["items"])
    other = Rating.objects.exclude(user_id=rater_id).values_list("user_id", flat=True).first()
    assert client.get(f"/api/users/{other}/recommendations", {"k": 10}).json()["items"] != ten["items"]


def test_a_movie_edited_or_added_shows_in_the_next_answer(
    client: Client, served, rater_id: int, catalogue_checked_once: None  # noqa: ANN001
) -> None:
    path = f"/api/users/{rater_id}/recommendations?k=10"
    first = client.get(path).json()["items"][0]["movie"]
    movie = Movie.objects.get(pk=first["id"])
    movie.title = "A Title Changed In The Admin"
    movie.save()
    assert client.get(path).json()["items"][0]["movie"]["title"] == "A Title Changed In The Admin"

    liked = list(Rating.objects.filter(user_id=rater_id, value__gte=4.5).values_list("movie__genres", flat=True))
    favourite = max(set(liked), key=liked.count)  # the genres this rater loves most
    arrival = Movie.objects.create(title="New Arrival", year=2024, genres=favourite)
    found = client.get(f"/api/users/{rater_id}/recommendations?k=100").json()
    assert arrival.id in [i["movie"]["id"] for i in found["items"]]


def test_the_cheap_version_and_the_ratings_read_agree(rater_id: int, token_for) -> None:  # noqa: ANN001
    _, newcomer = token_for("no-ratings-yet")
    for user_id in (rater_id, newcomer.pk):
        state = user_rating_state(user_id=user_id)
        snapshot = user_rating_snapshot(user_id=user_id)
        assert state is not None and state.ratings_version == snapshot.ratings_version
        assert state.rated == len(snapshot.ratings)
    assert user_rating_state(user_id=rater_id).public and not user_rating_state(user_id=newcomer.pk).public
    assert user_rating_state(user_id=99_999_999) is None


def test_the_state_query_reads_the_same_on_the_driver_connection_as_through_django(
    rater_id: int, token_for, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    _, newcomer = token_for("state-reader")
    for user_id in (rater_id, newcomer.pk, 99_999_999):
        direct = user_rating_state(user_id=user_id)  # the DB-API connection (queries are not logged)
        with CaptureQueriesContext(connection) as queries:
            logged = user_rating_state(user_id=user_id)  # Django's cursor: the query is seen
        assert direct == logged and len(queries.captured_queries) == 1
    monkeypatch.setattr(selectors, "_driver_sql", lambda vendor: "SELECT no_such_column FROM no_such_table")
    with pytest.raises(DatabaseError):  # Django's error (answered 503 by the API), not the driver's
        user_rating_state(user_id=rater_id)


def test_pages_share_the_cache_and_see_new_ratings(member_client: Client, member, served) -> None:  # noqa: ANN001
    before = user_recommendations(user_id=member.pk, k=12)
    assert before.source == "popular" and user_recommendations(user_id=member.pk, k=12) is before
    Rating.objects.create(user=member, movie_id=1, value=5)
    after = user_recommendations(user_id=member.pk, k=12)
    assert after.source == "personal" and after.rated == 1


def test_a_deleted_movie_leaves_the_answers_at_the_next_catalogue_check(
    client: Client, served, rater_id: int, catalogue_checked_every_request: None  # noqa: ANN001
) -> None:
    path = f"/api/users/{rater_id}/recommendations?k=10"
    first = client.get(path).json()["items"][0]["movie"]["id"]
    Movie.objects.filter(pk=first).delete()
    assert first not in [i["movie"]["id"] for i in client.get(path).json()["items"]]
