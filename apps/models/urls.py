from django.urls import path

from apps.models import views

app_name = "models"

urlpatterns = [
    path(
        "w/<slug:workspace>/training/<uuid:training_job>/progress/",
        views.training_progress,
        name="training_progress",
    ),
    path(
        "w/<slug:workspace>/generation/<uuid:generation_job>/progress/",
        views.generation_progress,
        name="generation_progress",
    ),
]
