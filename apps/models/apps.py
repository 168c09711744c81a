from django.apps import AppConfig


class ModelsConfig(AppConfig):
    name = "apps.models"
    label = "ml"
    verbose_name = "Models, styles and jobs"
