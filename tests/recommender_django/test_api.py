"""REST API: answers, authentication and one error shape (problem+json naming the field)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from recommender_django.movies.models import Movie, Rating

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def problem_fields(response) -> set[str]:  # noqa: ANN001
    assert response["Content-Type"] == PROBLEM, response.content
    body = response.json()
    assert body["status"] == response.status_code and body["title"]
    return {e["field"] for e in body.get("errors", [])}


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# --------------------------------------------------------------------------- movies
def test_movie_search_filters_by_title_and_genre_and_pages(client: Client) -> None:
    found = client.get("/api/movies", {"q": "star wars", "page_size": 3}).json()
    assert found["total"] >= 3 and len(found["items"]) == 3 and found["pages"] >= 1
    assert all("star wars" in m["title"].lower() for m in found["items"])
    horror = client.get("/api/movies", {"genre": "Horror", "page_size": 50}).json()
    assert horror["items"] and all("Horror" in m["genres"] for m in horror["items"])
    assert client.get("/api/movies", {"q": "toy\x00 story"}).status_code == 200  # NUL: PostgreSQL refuses it in text
    second = client.get("/api/movies", {"page": 2, "page_size": 5}).json()
    first = client.get("/api/movies", {"page": 1, "page_size": 5}).json()
    assert {m["id"] for m in first["items"]}.isdisjoint(m["id"] for m in second["items"])


def test_movie_detail_has_its_rating_stats_and_the_callers_rating(client: Client, token_for) -> None:  # noqa: ANN001
    token, user = token_for("critic")
    Rating.objects.create(user=user, movie_id=1, value=4.5)
    body = client.get("/api/movies/1", **bearer(token)).json()
    assert body["title"] == "Toy Story" and body["movielens_id"] == 1 and body["year"] == 1995
    assert body["rating_count"] == Rating.objects.filter(movie_id=1).count()
    assert body["your_rating"] == 4.5
    assert client.get("/api/movies/1").json()["your_rating"] is None


def test_similar_movies_and_k_range(client: Client, served) -> None:  # noqa: ANN001
    body = client.get("/api/movies/260/similar", {"k": 5}).json()
    assert len(body["items"]) == 5 and body["movie_id"] == 260
    assert 260 not in [i["movie"]["id"] for i in body["items"]]
    assert problem_fields(client.get("/api/movies/260/similar", {"k": 0})) == {"k"}
    assert problem_fields(client.get("/api/movies/260/similar", {"k": 51})) == {"k"}


@pytest.mark.parametrize("path", ["/api/movies/99999999", "/api/movies/99999999/similar"])
def test_unknown_movie_is_404_naming_the_id(client: Client, served, path: str) -> None:  # noqa: ANN001
    response = client.get(path)
    assert response.status_code == 404
    problem_fields(response)
    assert "99999999" in response.json()["detail"] and "movie_id" in response.json()["detail"]


@pytest.mark.parametrize(("path", "field"), [
    ("/api/movies/abc", "movie_id"), ("/api/movies/0", "movie_id"), ("/api/movies/99999999999999999999", "movie_id"),
    ("/api/movies?page=0", "page"), ("/api/movies?page_size=1000", "page_size"), ("/api/movies?genre=Spaghetti", "genre"),
    ("/api/users/1/recommendations?k=101", "k"), ("/api/users/x/recommendations", "user_id"),
])
def test_bad_parameters_are_422_naming_the_field(client: Client, served, path: str, field: str) -> None:  # noqa: ANN001
    response = client.get(path)
    assert response.status_code == 422
    assert problem_fields(response) == {field}


# --------------------------------------------------------------------------- recommendations
def test_movielens_raters_recommendations_are_public_with_explanations(client: Client, served, rater_id: int) -> None:  # noqa: ANN001
    body = client.get(f"/api/users/{rater_id}/recommendations", {"k": 7}).json()
    assert body["source"] == "personal" and len(body["items"]) == 7 and body["rated"] > 20
    rated = set(Rating.objects.filter(user_id=rater_id).values_list("movie_id", flat=True))
    assert not rated & {i["movie"]["id"] for i in body["items"]}
    assert all(i["because"] and {b["id"] for b in i["because"]} <= rated for i in body["items"])
    horror = client.get(f"/api/users/{rater_id}/recommendations", {"k": 5, "genre": "Horror"}).json()
    assert all("Horror" in i["movie"]["genres"] for i in horror["items"])


def test_other_users_recommendations_are_private(client: Client, served, token_for) -> None:  # noqa: ANN001
    owner_token, owner = token_for("owner")
    other_token, _ = token_for("nosy")
    path = f"/api/users/{owner.pk}/recommendations"
    assert client.get(path).status_code == 401
    assert client.get(path, **bearer(other_token)).status_code == 403
    own = client.get(path, **bearer(owner_token))
    assert own.status_code == 200 and own.json()["source"] == "popular"  # nothing rated yet
    assert client.get("/api/users/99999999/recommendations").status_code == 404


def test_ratings_posted_change_the_next_recommendations(client: Client, served, token_for) -> None:  # noqa: ANN001
    token, user = token_for("newcomer")
    path = f"/api/users/{user.pk}/recommendations?k=10"
    before = [i["movie"]["id"] for i in client.get(path, **bearer(token)).json()["items"]]
    for movie in (1, 3114, 2355, 588, 364):  # Toy Story 1-2, A Bug's Life, Aladdin, The Lion King
        response = client.post("/api/ratings", {"movie_id": movie, "value": 5}, content_type="application/json",
                               **bearer(token))
        assert response.status_code == 201
    after = client.get(path, **bearer(token)).json()
    assert after["source"] == "personal" and after["rated"] == 5
    assert [i["movie"]["id"] for i in after["items"]] != before
    assert any("Animation" in i["movie"]["genres"] or "Children" in i["movie"]["genres"] for i in after["items"][:5])


def test_predict_returns_the_estimated_stars(client: Client, served, rater_id: int, token_for) -> None:  # noqa: ANN001
    body = client.post("/api/ratings/predict", {"user_id": rater_id, "movie_id": 2571},
                       content_type="application/json").json()
    assert 0.5 <= body["estimate"] <= 5.0 and body["source"] == "trained" and body["algorithm"] == "svd"
    token, user = token_for("predictee")
    client.post("/api/ratings", {"movie_id": 1, "value": 5}, content_type="application/json", **bearer(token))
    folded = client.post("/api/ratings/predict", {"user_id": user.pk, "movie_id": 3114},
                         content_type="application/json", **bearer(token)).json()
    assert folded["source"] == "fold-in"
    missing = client.post("/api/ratings/predict", {"user_id": rater_id, "movie_id": 99999999},
                          content_type="application/json")
    assert missing.status_code == 404
    assert problem_fields(client.post("/api/ratings/predict", {"user_id": "me"}, content_type="application/json")) == {
        "user_id", "movie_id"}


def test_anonymous_popular_list_and_model_card(client: Client, served) -> None:  # noqa: ANN001
    popular = client.get("/api/popular", {"k": 5, "genre": "Comedy"}).json()
    assert len(popular) == 5 and all("Comedy" in p["movie"]["genres"] for p in popular)
    model = client.get("/api/model").json()
    assert model["name"] == "recommender" and model["algorithm"] == "svd"
    assert {"rmse", "ndcg@10", "precision@10"} <= set(model["metrics"])
    assert "stratified" in model["evaluation"]["ranking"]["protocol"]


def test_no_model_means_503_with_the_reason(client: Client) -> None:
    response = client.get("/api/popular")
    assert response.status_code == 503 and "recommender" in response.json()["detail"]
    assert response["Retry-After"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "model" in ready.json()["checks"]
    assert client.get("/healthz").json() == {"status": "ok"}


# --------------------------------------------------------------------------- ratings
def test_rating_create_replace_list_delete(client: Client, token_for) -> None:  # noqa: ANN001
    token, user = token_for("rater")
    first = client.post("/api/ratings", {"movie_id": 1, "value": 3.5}, content_type="application/json", **bearer(token))
    again = client.post("/api/ratings", {"movie_id": 1, "value": 4.5}, content_type="application/json", **bearer(token))
    assert (first.status_code, again.status_code) == (201, 200)
    assert Rating.objects.get(user=user, movie_id=1).value == 4.5 and Rating.objects.filter(user=user).count() == 1
    mine = client.get("/api/me/ratings", **bearer(token)).json()
    assert mine["total"] == 1 and mine["items"][0]["movie"]["id"] == 1 and mine["items"][0]["value"] == 4.5
    assert client.delete("/api/ratings/1", **bearer(token)).status_code == 204
    gone = client.delete("/api/ratings/1", **bearer(token))
    assert gone.status_code == 404 and "movie_id" in gone.json()["detail"]


@pytest.mark.parametrize(("body", "fields"), [
    ({"movie_id": 1, "value": 5.5}, {"value"}), ({"movie_id": 1, "value": 0}, {"value"}),
    ({"movie_id": 1, "value": 3.3}, {"value"}), ({"movie_id": -1, "value": "lots"}, {"movie_id", "value"}),
    ({"value": 4}, {"movie_id"}), ([1, 2], {"(body)"}),
])
def test_invalid_ratings_are_422_naming_every_bad_field(client: Client, token_for, body: object, fields: set[str]) -> None:  # noqa: ANN001
    token, user = token_for("sloppy")
    response = client.post("/api/ratings", body, content_type="application/json", **bearer(token))
    assert response.status_code == 422
    assert problem_fields(response) == fields
    assert not Rating.objects.filter(user=user).exists()


def test_rating_a_missing_movie_is_404(client: Client, token_for) -> None:  # noqa: ANN001
    token, _ = token_for("lost")
    response = client.post("/api/ratings", {"movie_id": 99999999, "value": 4}, content_type="application/json",
                           **bearer(token))
    assert response.status_code == 404 and "99999999" in response.json()["detail"]


def test_rating_endpoints_need_a_live_token_or_a_csrf_checked_session(token_for, member) -> None:  # noqa: ANN001
    client = Client(enforce_csrf_checks=True)
    body = json.dumps({"movie_id": 1, "value": 4})
    anonymous = client.post("/api/ratings", body, content_type="application/json")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    problem_fields(anonymous)
    assert client.get("/api/me/ratings", **bearer("mlapps_not-a-real-token")).status_code == 401
    client.force_login(member)
    no_csrf = client.post("/api/ratings", body, content_type="application/json")
    assert no_csrf.status_code == 403
    client.get("/")  # sets the CSRF cookie
    with_csrf = client.post("/api/ratings", body, content_type="application/json",
                            HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert with_csrf.status_code == 201


# --------------------------------------------------------------------------- protocol errors
def test_unknown_path_wrong_method_bad_json_and_big_body_are_problems(client: Client, token_for) -> None:  # noqa: ANN001
    token, _ = token_for("prober")
    unknown = client.get("/api/no-such-thing")
    assert unknown.status_code == 404 and unknown["Content-Type"] == PROBLEM
    wrong = client.put("/api/ratings", "{}", content_type="application/json", **bearer(token))
    assert wrong.status_code == 405 and wrong["Allow"] == "POST" and wrong["Content-Type"] == PROBLEM
    broken = client.post("/api/ratings", "{not json", content_type="application/json", **bearer(token))
    assert broken.status_code == 400 and broken["Content-Type"] == PROBLEM
    huge = client.post("/api/ratings", json.dumps({"movie_id": 1, "value": 4, "pad": "x" * 2_000_000}),
                       content_type="application/json", **bearer(token))
    assert huge.status_code == 413 and huge["Content-Type"] == PROBLEM


def test_openapi_document_and_local_docs_page(client: Client) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    paths = set(spec["paths"])
    assert {"/api/movies", "/api/movies/{movie_id}", "/api/movies/{movie_id}/similar",
            "/api/users/{user_id}/recommendations", "/api/ratings", "/api/ratings/{movie_id}", "/api/me/ratings",
            "/api/ratings/predict", "/api/model"} <= paths
    assert "/api/predict/" not in paths  # reserved for the seed app
    errors = spec["paths"]["/api/ratings"]["post"]["responses"]["422"]["content"]
    assert list(errors) == ["application/problem+json"]
    docs = client.get("/api/docs")
    html = docs.content.decode()
    assert docs.status_code == 200 and "/static/ninja/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert "<script>" not in html  # no inline script: the CSP forbids it
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200


def test_a_movie_added_after_training_is_recommendable_at_once(client: Client, served, token_for) -> None:  # noqa: ANN001
    movie = Movie.objects.create(title="Brand New Toy Adventure", year=2016, genres="Animation|Children|Comedy")
    similar = client.get(f"/api/movies/{movie.pk}/similar", {"k": 5}).json()
    assert len(similar["items"]) == 5
    assert all({"Animation", "Children"} & set(i["movie"]["genres"]) for i in similar["items"])
    token, user = token_for("animation-fan")
    for liked in (1, 3114, 2355, 588, 364):
        client.post("/api/ratings", {"movie_id": liked, "value": 5}, content_type="application/json", **bearer(token))
    found = client.get(f"/api/users/{user.pk}/recommendations", {"k": 10, "genre": "Animation"}, **bearer(token)).json()
    new = [i for i in found["items"] if i["movie"]["id"] == movie.pk]
    assert new and new[0]["reason"] == "content" and new[0]["because"]
