from django.urls import path, register_converter

from apps.photos import views, views_moderation


class ImageVariantConverter:
    """``full`` or ``thumb``: anything else does not resolve (404)."""

    regex = "full|thumb"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ImageVariantConverter, "image_variant")

app_name = "photos"

urlpatterns = [
    path("w/<slug:workspace>/subjects/", views.subjects, name="subjects"),
    path(
        "w/<slug:workspace>/subjects/<uuid:subject>/photos/",
        views.subject_photos,
        name="subject_photos",
    ),
    path(
        "w/<slug:workspace>/subjects/<uuid:subject>/consent/",
        views.subject_consent,
        name="subject_consent",
    ),
    path(
        "w/<slug:workspace>/subjects/<uuid:subject>/photos/list/",
        views.subject_photos_partial,
        name="subject_photos_partial",
    ),
    path("w/<slug:workspace>/photos/<uuid:photo>/delete/", views.photo_delete, name="photo_delete"),
    path("w/<slug:workspace>/photos/<uuid:photo>/image/", views.photo_image, name="photo_image"),
    path("w/<slug:workspace>/photos/<uuid:photo>/face/", views.photo_face, name="photo_face"),
    path(
        "w/<slug:workspace>/images/<uuid:image>/<image_variant:variant>/",
        views.generated_image,
        name="generated_image",
    ),
    path(
        "w/<slug:workspace>/images/<uuid:image>/report/",
        views_moderation.image_report_view,
        name="image_report",
    ),
]
