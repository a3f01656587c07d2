"""Cookie-less GETs of the recommendations URL go through the short middleware chain (handlers.py):
every answer must be the one the full chain gives, to the header."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client

from recommender_django.handlers import SHORT_CHAIN_SKIPS
from tests.recommender_django.chains import ShortChainClientHandler, both

pytestmark = pytest.mark.django_db


def test_the_short_chain_is_the_middleware_list_without_the_skipped_ones() -> None:
    assert SHORT_CHAIN_SKIPS <= set(django_settings.MIDDLEWARE)  # a renamed middleware is noticed here
    handler = ShortChainClientHandler()
    handler.load_middleware()
    assert handler._short_chain.paths == [m for m in django_settings.MIDDLEWARE if m not in SHORT_CHAIN_SKIPS]


@pytest.mark.parametrize(("query", "status", "taken"), [
    ("?k=10", 200, ["short"]),
    ("", 200, ["short"]),
    ("?k=3&genre=Horror", 200, ["short"]),
    ("?k=0", 422, ["again"]),  # ninja's view answers, in the full chain
    ("?genre=Spaghetti", 422, ["short"]),  # the endpoint's own check
])
def test_public_users_are_answered_by_the_short_chain(
    client: Client, served, rater_id: int, chains: list[str], query: str, status: int, taken: list[str],  # noqa: ANN001
) -> None:
    assert both(client, "get", f"/api/users/{rater_id}/recommendations{query}")[0] == status
    assert chains == taken


@pytest.mark.parametrize(("user", "status", "taken"), [
    ("99999999", 404, ["short"]), ("x", 422, ["again"]),
    # decoded, these are not ISO-8859-1: the request is built again from the environ (make fuzz found a 500)
    ("%F2%9E%8F%B7", 422, ["again"]), ("%C3%A9", 422, ["again"]), ("%FF", 422, ["again"]),
])
def test_unknown_and_malformed_users(client: Client, served, chains: list[str], user: str, status: int,  # noqa: ANN001
                                     taken: list[str]) -> None:
    assert both(client, "get", f"/api/users/{user}/recommendations")[0] == status
    assert chains == taken


def test_private_users_by_token_in_the_short_chain_by_session_in_the_full_one(
    client: Client, served, token_for, member_client: Client, chains: list[str],  # noqa: ANN001
) -> None:
    owner_token, owner = token_for("owner")
    other_token, _ = token_for("nosy")
    path = f"/api/users/{owner.pk}/recommendations?k=4"
    cases = [({"HTTP_AUTHORIZATION": f"Bearer {owner_token}"}, 200, ["short"]),
             ({"HTTP_AUTHORIZATION": f"Bearer {other_token}"}, 403, ["short"]),
             ({"HTTP_AUTHORIZATION": "Bearer not-a-token"}, 401, ["short"]),
             ({}, 401, ["again"])]  # who is calling is the session's business: the full chain answers
    for extra, status, taken in cases:
        chains.clear()
        assert both(client, "get", path, **extra)[0] == status
        assert chains == taken
    chains.clear()
    assert both(member_client, "get", path)[0] == 403  # a session cookie: the full chain only
    assert chains == []


@pytest.mark.parametrize("method", ["post", "head", "options"])
def test_other_methods_take_the_full_chain(
    served, rater_id: int, chains: list[str], method: str  # noqa: ANN001
) -> None:
    assert both(Client(enforce_csrf_checks=True), method, f"/api/users/{rater_id}/recommendations")[0] == 405
    assert chains == []


def test_other_urls_take_the_full_chain(
    client: Client, served, rater_id: int, chains: list[str]  # noqa: ANN001
) -> None:
    assert both(client, "get", "/healthz")[0] == 200
    assert both(client, "get", f"/api/users/{rater_id}/recommendations/")[0] == 404
    assert both(client, "get", "/api/genres")[0] == 200
    assert chains == []


def test_host_check_and_https_redirect_stay(client: Client, served, rater_id: int, chains: list[str],  # noqa: ANN001
                                             settings) -> None:  # noqa: ANN001
    path = f"/api/users/{rater_id}/recommendations"
    assert both(client, "get", path, HTTP_HOST="evil.example")[0] == 400
    settings.SECURE_SSL_REDIRECT = True  # read when the middleware is built: both clients are new
    assert both(Client(), "get", path)[0] == 301
    assert both(Client(), "get", path, secure=True)[0] == 200
    assert chains == ["short"] * 3


def test_without_a_model_both_chains_answer_503(client: Client, rater_id: int, chains: list[str]) -> None:
    assert both(client, "get", f"/api/users/{rater_id}/recommendations")[0] == 503
    assert chains == ["short"]
