"""Server-rendered pages: they render, forms carry CSRF, security headers are on every response."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from recommender_django.movies.models import Movie, Rating

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/movies/?q=matrix", "/movies/?genre=Comedy&page=2", "/movies/2571/", "/model/",
                                  "/accounts/login/", "/accounts/signup/"])
def test_public_pages_render(client: Client, served, path: str) -> None:  # noqa: ANN001
    response = client.get(path)
    assert response.status_code == 200
    assert b"<h1" in response.content or b"<h2" in response.content


def test_home_shows_popular_and_personal_recommendations_with_reasons(member_client: Client, member, served) -> None:  # noqa: ANN001
    anonymous = Client().get("/").content.decode()
    assert "Popular" in anonymous and "Recommended for you" not in anonymous
    for movie in (260, 1196, 1210, 1198, 2571):
        Rating.objects.create(user=member, movie_id=movie, value=5)
    page = member_client.get("/").content.decode()
    assert "Recommended for you" in page and "Because you rated" in page
    recommendations = member_client.get("/recommendations/?genre=Sci-Fi").content.decode()
    assert "From your 5 ratings" in recommendations and "Because you rated" in recommendations


def test_movie_page_rating_form_stores_and_replaces_a_rating(member, served) -> None:  # noqa: ANN001
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    page = client.get("/movies/1/").content.decode()
    assert "Toy Story" in page and "Similar movies" in page and "We think you would give it" in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post("/movies/1/rate", {"value": "4.5"}).status_code == 403  # no CSRF token
    response = client.post("/movies/1/rate", {"value": "4.5", "csrfmiddlewaretoken": token, "next": "/movies/1/"})
    assert response.status_code == 302 and response["Location"] == "/movies/1/"
    client.post("/movies/1/rate", {"value": "2", "csrfmiddlewaretoken": token, "next": "https://evil.example/"})
    assert Rating.objects.get(user=member, movie_id=1).value == 2.0
    assert "You rated it" in client.get("/movies/1/").content.decode()
    ratings_page = client.get("/me/ratings/").content.decode()
    assert "Toy Story" in ratings_page
    client.post("/movies/1/unrate", {"csrfmiddlewaretoken": token})
    assert not Rating.objects.filter(user=member).exists()


def test_rating_form_rejects_values_outside_the_scale(member_client: Client, member, served) -> None:  # noqa: ANN001
    response = member_client.post("/movies/1/rate", {"value": "7"}, follow=True)
    assert "Choose a rating between 0.5 and 5" in response.content.decode()
    assert not Rating.objects.filter(user=member).exists()


def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    for path in ("/me/ratings/", "/recommendations/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.post("/movies/1/rate", {"value": "4"}).status_code == 302
    assert not Rating.objects.filter(movie_id=1, user__username="").exists()


def test_sign_up_logs_the_new_user_in(client: Client, served) -> None:  # noqa: ANN001
    response = client.post("/accounts/signup/", {"username": "newbie", "password1": "correct-horse-battery",
                                                 "password2": "correct-horse-battery"})
    assert response.status_code == 302
    user = get_user_model().objects.get(username="newbie")
    assert user.has_usable_password()
    assert "Log out newbie" in client.get("/").content.decode()
    weak = Client().post("/accounts/signup/", {"username": "weak", "password1": "123", "password2": "123"})
    assert weak.status_code == 200 and not get_user_model().objects.filter(username="weak").exists()


def test_imported_raters_cannot_log_in(client: Client, rater_id: int) -> None:
    rater = get_user_model().objects.get(pk=rater_id)
    assert not rater.has_usable_password()
    assert client.post("/accounts/login/", {"username": rater.username, "password": ""}).status_code == 200
    assert "_auth_user_id" not in client.session


def test_pages_say_when_no_model_is_trained(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 503 and "not available yet" in response.content.decode()
    assert client.get("/movies/?q=toy").status_code == 200  # the catalogue works without a model


def test_security_headers_on_pages_api_and_errors(client: Client, served) -> None:  # noqa: ANN001
    for path in ("/", "/api/movies", "/api/nowhere", "/movies/999999999/"):
        response = client.get(path)
        csp = response["Content-Security-Policy"]
        script = next(part for part in csp.split(";") if "script-src" in part)
        assert "'unsafe-inline'" not in script and "frame-ancestors 'none'" in csp
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
    assert client.get("/api/movies")["Cache-Control"] == "no-store"


def test_templates_have_no_inline_script_and_assets_are_local(client: Client, served) -> None:  # noqa: ANN001
    html = client.get("/movies/1/").content.decode()
    assert "<script>" not in html and " on" + "click=" not in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert all(not s.startswith(("http://", "https://", "//")) for s in sources)
    for asset in ("/static/recommender/app.css", "/static/recommender/app.js"):
        assert client.get(asset).status_code == 200


def test_admin_manages_movies_ratings_and_model_versions(admin_client: Client, served) -> None:  # noqa: ANN001
    for path in ("/admin/movies/movie/", "/admin/movies/movie/add/", "/admin/movies/rating/",
                 "/admin/modelops/modelversion/", "/admin/modelops/trainingrun/", "/admin/accounts/apitoken/"):
        assert admin_client.get(path).status_code == 200, path
    response = admin_client.post("/admin/movies/movie/add/", {"title": "Admin Added", "year": "2020",
                                                              "genres": "Drama", "movielens_id": "", "source": "admin"})
    assert response.status_code == 302
    assert Movie.objects.filter(title="Admin Added", source="admin").exists()
    versions = admin_client.get("/admin/modelops/modelversion/").content.decode()
    assert "recommender@1" in versions
