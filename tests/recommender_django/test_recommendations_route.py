"""`/api/users/{id}/recommendations` is routed ahead of the API (endpoints.recommendations_route):
it must answer every request exactly as ninja's own view of the operation does."""

from __future__ import annotations

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import resolve

from recommender_django import urls as project_urls
from recommender_django.api.endpoints import (
    RecommendationParams,
    api,
    plain_recommendation_params,
    recommendations_route,
)

pytestmark = pytest.mark.django_db

# The project's URLs without the dedicated route: every request goes to ninja's view.
urlpatterns = [p for p in project_urls.urlpatterns if getattr(p, "callback", None) is not recommendations_route]
HEADERS = ("Content-Type", "Allow", "WWW-Authenticate", "Retry-After", "Cache-Control", "Content-Security-Policy")


def answer(client: Client, method: str, path: str, **extra: str) -> tuple[int, dict[str, str | None], bytes]:
    response = getattr(client, method)(path, **extra)
    return response.status_code, {h: response.headers.get(h) for h in HEADERS}, response.content


def both(client: Client, settings, method: str, path: str, **extra: str) -> tuple[tuple, tuple]:  # noqa: ANN001
    assert resolve(path.partition("?")[0]).func is recommendations_route
    fast = answer(client, method, path, **extra)
    settings.ROOT_URLCONF = __name__
    try:
        assert resolve(path.partition("?")[0]).func is not recommendations_route  # ninja's view
        return fast, answer(client, method, path, **extra)
    finally:
        settings.ROOT_URLCONF = project_urls.__name__


def test_the_route_is_taken_and_the_operation_has_no_auth_or_throttle() -> None:
    assert resolve("/api/users/1/recommendations").func is recommendations_route
    operation = next(p.callback for p in api.urls[0] if getattr(p, "name", None) == "recommendations")
    operations = operation.__closure__[0].cell_contents.operations  # ninja's PathView of the URL
    # The route calls the endpoint without ninja's checks: it must have none (auth=, throttle=).
    assert [op.methods for op in operations] == [["GET"]]
    assert not operations[0].auth_callbacks and not operations[0].throttle_objects


@pytest.mark.parametrize("query", [
    "", "?k=7", "?k=3&genre=Horror", "?genre=", "?k=5&k=6", "?k=%2B4", "?k=2&unknown=1",
    "?k=0", "?k=101", "?k=abc", "?k=", "?genre=Spaghetti", "?genre=" + "x" * 51, "?k=0&genre=" + "x" * 51,
    "?" + "&".join(f"p{i}=1" for i in range(201)),  # more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS
    "?k=100", "?k=010", "?k=4&", "?K=4",  # around the plain `?k=N` reading
])
@pytest.mark.parametrize("user", ["{rater}", "x", "0", "-1", "99999999", "99999999999999999999", "%201",
                                  "0{rater}", "2147483647", "2147483648"])
def test_same_answer_as_ninja_for_public_users_and_bad_parameters(
    client: Client, settings, served, rater_id: int, user: str, query: str,  # noqa: ANN001
) -> None:
    fast, ninja = both(client, settings, "get", f"/api/users/{user.format(rater=rater_id)}/recommendations{query}")
    assert fast == ninja


@pytest.mark.parametrize(("user_id", "query", "expected"), [
    ("15", "", (15, 10, None)), ("15", "k=7", (15, 7, None)), ("2147483647", "k=100", (2147483647, 100, None)),
    ("15", "k=101", None), ("2147483648", "", None), ("015", "", None), ("15", "k=07", None), ("15", "k=", None),
    ("15", "k=0", None), ("15", "k=7&k=8", None), ("15", "genre=Drama", None), ("١٥", "", None), ("15", "k=٧", None),
])
def test_the_plain_reading_agrees_with_the_parameter_model(user_id: str, query: str, expected: tuple | None) -> None:
    assert plain_recommendation_params(user_id, query) == expected
    if expected is not None:  # whatever it reads, the model reads the same
        checked = RecommendationParams.model_validate({**QueryDict(query).dict(), "user_id": user_id})
        assert (checked.user_id, checked.k, checked.genre) == expected


@pytest.mark.parametrize("method", ["post", "put", "delete", "head", "options"])
def test_same_answer_as_ninja_for_other_methods(settings, served, rater_id: int, method: str) -> None:  # noqa: ANN001
    client = Client(enforce_csrf_checks=True)  # ninja's views are CSRF-exempt: a POST is a 405, not a CSRF 403
    fast, ninja = both(client, settings, method, f"/api/users/{rater_id}/recommendations")
    assert fast == ninja and fast[0] == 405


def test_same_answer_as_ninja_for_private_users(client: Client, settings, served, token_for, member_client) -> None:  # noqa: ANN001
    owner_token, owner = token_for("owner")
    other_token, _ = token_for("nosy")
    path = f"/api/users/{owner.pk}/recommendations?k=4"
    for extra in ({}, {"HTTP_AUTHORIZATION": f"Bearer {other_token}"}, {"HTTP_AUTHORIZATION": f"Bearer {owner_token}"},
                  {"HTTP_AUTHORIZATION": "Bearer not-a-token"}):
        fast, ninja = both(client, settings, "get", path, **extra)
        assert fast == ninja
    statuses = [both(client, settings, "get", path, **extra)[0][0] for extra in
                ({}, {"HTTP_AUTHORIZATION": f"Bearer {other_token}"}, {"HTTP_AUTHORIZATION": f"Bearer {owner_token}"})]
    assert statuses == [401, 403, 200]
    fast, ninja = both(member_client, settings, "get", path)  # a logged-in session of someone else
    assert fast == ninja and fast[0] == 403


def test_same_answer_as_ninja_without_a_model(client: Client, settings, rater_id: int) -> None:  # noqa: ANN001
    fast, ninja = both(client, settings, "get", f"/api/users/{rater_id}/recommendations")
    assert fast == ninja and fast[0] == 503
