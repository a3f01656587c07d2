"""Pages: each view parses the request, calls one query or service, renders a template."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from common.registry import ModelUnavailableError
from recommender_django.modelops.recommendations import (
    model_metadata,
    popular_movies,
    rating_prediction,
    similar_movies,
    user_recommendations,
)
from recommender_django.movies.models import Movie
from recommender_django.movies.selectors import genre_list, movie_page, movie_rating_stats, user_rating_of, user_ratings
from recommender_django.movies.services import RatingValueError, rating_delete, rating_upsert
from recommender_django.web.forms import RatingForm, SearchForm, SignUpForm

PAGE_SIZE = 24


def model_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Render a clear 503 page while no model is trained instead of failing."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ModelUnavailableError as exc:
            return render(request, "web/unavailable.html", {"reason": str(exc)}, status=503)

    return wrapper


def _genre(request: HttpRequest) -> str | None:
    genre = request.GET.get("genre") or None
    return genre if genre in genre_list() else None


@model_required
def home(request: HttpRequest) -> HttpResponse:
    genre = _genre(request)
    personal = None
    if request.user.is_authenticated:
        personal = user_recommendations(user_id=request.user.pk, k=12, genre=genre)
    popular = popular_movies(k=12, genre=genre, exclude_user_id=request.user.pk if request.user.is_authenticated else None)
    return render(request, "web/home.html", {"personal": personal, "popular": popular, "genre": genre,
                                             "genres": genre_list()})


def movie_search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    form.is_valid()
    data = form.cleaned_data if form.is_valid() else {}
    genre = data.get("genre") if data.get("genre") in genre_list() else None
    page = movie_page(query=data.get("q") or None, genre=genre, page=data.get("page") or 1, page_size=PAGE_SIZE)
    return render(request, "web/movies.html", {"form": form, "found": page, "genre": genre, "genres": genre_list(),
                                               "q": data.get("q") or ""})


@model_required
def movie_detail(request: HttpRequest, movie_id: int) -> HttpResponse:
    movie = Movie.objects.filter(pk=movie_id).first()
    if movie is None:
        raise Http404("no such movie")
    own = user_rating_of(user_id=request.user.pk if request.user.is_authenticated else None, movie_id=movie.id)
    prediction = None
    if request.user.is_authenticated and own is None:
        prediction = rating_prediction(user_id=request.user.pk, movie_id=movie.id)
    form = RatingForm(initial={"value": f"{own.value:g}" if own else "4"})
    return render(request, "web/movie.html", {
        "movie": movie, "stats": movie_rating_stats(movie_ids=[movie.id])[movie.id], "own": own,
        "prediction": prediction, "form": form, "similar": similar_movies(movie=movie, k=12),
    })


@login_required
@require_POST
def movie_rate(request: HttpRequest, movie_id: int) -> HttpResponse:
    movie = Movie.objects.filter(pk=movie_id).first()
    if movie is None:
        raise Http404("no such movie")
    form = RatingForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a rating between 0.5 and 5 stars.")
    else:
        try:
            rating_upsert(user=request.user, movie=movie, value=form.cleaned_data["value"])
        except RatingValueError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"You rated {movie.title} {form.cleaned_data['value']:g} ★.")
    return redirect(_next_url(request, reverse("web:movie", args=[movie.id])))


@login_required
@require_POST
def movie_unrate(request: HttpRequest, movie_id: int) -> HttpResponse:
    if rating_delete(user=request.user, movie_id=movie_id):
        messages.success(request, "Rating removed.")
    return redirect(_next_url(request, reverse("web:my_ratings")))


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    # Only local paths: never redirect to another site.
    return target if target.startswith("/") and not target.startswith("//") else default


@login_required
def my_ratings(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(user_ratings(user_id=request.user.pk), 50)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "web/my_ratings.html", {"page": page})


@login_required
@model_required
def recommendations(request: HttpRequest) -> HttpResponse:
    genre = _genre(request)
    found = user_recommendations(user_id=request.user.pk, k=24, genre=genre)
    return render(request, "web/recommendations.html", {"found": found, "genre": genre, "genres": genre_list()})


@model_required
def model_card(request: HttpRequest) -> HttpResponse:
    meta = model_metadata()
    evaluation = meta.get("evaluation") or {}
    return render(request, "web/model.html", {
        "meta": meta, "metrics": {k.replace("@", "_"): v for k, v in (meta.get("metrics") or {}).items()},
        "rating": evaluation.get("rating") or {},
        "fold_in": evaluation.get("fold_in") or {}, "ranking": evaluation.get("ranking") or {},
        "training": meta.get("training_data") or {}, "params": meta.get("params") or {},
    })


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("web:home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome! Rate a few movies to get personal recommendations.")
        return redirect("web:home")
    return render(request, "registration/signup.html", {"form": form})
