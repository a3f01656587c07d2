from django.apps import AppConfig


class MoviesConfig(AppConfig):
    name = "recommender_django.movies"
    label = "movies"
    verbose_name = "Movies and ratings"
    default_auto_field = "django.db.models.BigAutoField"
