from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from recommender_django.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("movies/", views.movie_search, name="movies"),
    path("movies/<int:movie_id>/", views.movie_detail, name="movie"),
    path("movies/<int:movie_id>/rate", views.movie_rate, name="rate"),
    path("movies/<int:movie_id>/unrate", views.movie_unrate, name="unrate"),
    path("me/ratings/", views.my_ratings, name="my_ratings"),
    path("recommendations/", views.recommendations, name="recommendations"),
    path("model/", views.model_card, name="model"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
