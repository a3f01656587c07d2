from django.apps import AppConfig


class ModelOpsConfig(AppConfig):
    name = "recommender_django.modelops"
    label = "modelops"
    verbose_name = "Recommender models"
    default_auto_field = "django.db.models.BigAutoField"
