"""20 clients posting ratings at once through a real threaded server and a real database:
every acknowledged rating is stored, none twice, the last write of a pair wins."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest
import requests

from recommender_django.accounts.services import api_token_create
from recommender_django.movies.models import Movie, Rating

CLIENTS = 20
USERS = 10  # two clients per user: they race on the same (user, movie) pairs
SHARED_MOVIES = 12


@pytest.mark.django_db(transaction=True)
def test_concurrent_clients_lose_nothing_and_create_no_duplicates(live_server) -> None:  # noqa: ANN001
    shared = [Movie.objects.create(title=f"Shared {i}", genres="Drama").pk for i in range(SHARED_MOVIES)]
    own = [Movie.objects.create(title=f"Own {i}", genres="Comedy").pk for i in range(CLIENTS)]
    tokens = [api_token_create(name=f"racer-{u}")[0] for u in range(USERS)]
    posted: dict[tuple[int, int], set[float]] = defaultdict(set)
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(number: int) -> None:
        user = number % USERS
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {tokens[user]}"
            start.wait()
            plan = [(movie, 0.5 * ((number + j) % 10 + 1)) for j, movie in enumerate(shared)] + [(own[number], 4.0)]
            for movie, value in plan:
                response = session.post(f"{live_server.url}/api/ratings", json={"movie_id": movie, "value": value},
                                        timeout=60)
                with lock:
                    statuses.append(response.status_code)
                    if response.status_code in (200, 201):
                        posted[(user, movie)].add(value)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(statuses) == CLIENTS * (SHARED_MOVIES + 1)
    assert set(statuses) <= {200, 201}, sorted(set(statuses))
    stored = list(Rating.objects.filter(user__username__startswith="racer-")
                  .values_list("user__username", "movie_id", "value"))
    assert len(stored) == USERS * SHARED_MOVIES + CLIENTS  # one row per (user, movie): no duplicate, nothing lost
    for username, movie, value in stored:
        user = int(username.split("-")[1])
        assert value in posted[(user, movie)]  # one of the acknowledged values, never a mix or a default
    assert all(value == 4.0 for _, movie, value in stored if movie in own)
