from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "recommender_django.web"
    label = "web"
    verbose_name = "Pages"
