"""factory_boy factories for photos."""

from __future__ import annotations

import io

import factory
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from apps.photos.models import GeneratedImage, Photo, Subject
from tests.factories.accounts import WorkspaceFactory


def tiny_image_bytes(fmt: str = "JPEG", colour: tuple[int, int, int] = (200, 160, 140)) -> bytes:
    """A small real image file (8x8) for rows that need a stored file but no face."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, fmt)
    return out.getvalue()


class TenantModelFactory(factory.django.DjangoModelFactory):
    """Creates through ``Model.unscoped``: ``Model.objects`` is fail-closed without a workspace."""

    class Meta:
        abstract = True

    @classmethod
    def _get_manager(cls, model_class):
        return model_class.unscoped


class SubjectFactory(TenantModelFactory):
    class Meta:
        model = Subject

    workspace = factory.SubFactory(WorkspaceFactory)
    display_name = factory.Faker("name")
    consent_given_at = factory.LazyFunction(timezone.now)
    consent_version = "test"

    class Params:
        # A team seat's subject before the person has consented (uploads are refused).
        consent_pending = factory.Trait(consent_given_at=None, consent_version="")


class PhotoFactory(TenantModelFactory):
    """An accepted photo with small stored image and face-crop files. Pass ``embedding=[...]``
    for same-person checks, ``status=...``/``image=""`` for other states."""

    class Meta:
        model = Photo

    subject = factory.SubFactory(SubjectFactory)
    workspace = factory.SelfAttribute("subject.workspace")
    original_name = factory.Sequence(lambda n: f"IMG_{n:04d}.jpg")
    status = Photo.Status.ACCEPTED
    image = factory.LazyFunction(lambda: ContentFile(tiny_image_bytes(), name="photo.jpg"))
    face_crop = factory.LazyFunction(lambda: ContentFile(tiny_image_bytes(), name="face.jpg"))
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    pixel_hash = factory.Sequence(lambda n: f"{n + 10**6:064x}")
    checked_at = factory.LazyFunction(timezone.now)


class GeneratedImageFactory(TenantModelFactory):
    """A delivered (customer-visible) generated image with a small PNG and thumbnail."""

    class Meta:
        model = GeneratedImage

    subject = factory.SubFactory(SubjectFactory)
    workspace = factory.SelfAttribute("subject.workspace")
    image = factory.LazyFunction(lambda: ContentFile(tiny_image_bytes("PNG"), name="image.png"))
    thumbnail = factory.LazyFunction(
        lambda: ContentFile(tiny_image_bytes("JPEG"), name="thumb.jpg")
    )
    width = 8
    height = 8
    seed = factory.Sequence(lambda n: 1000 + n)
    prompt = "studio headshot of a person, soft light"
    face_found = True
    moderation_status = GeneratedImage.Moderation.DELIVERED


__all__ = ["GeneratedImageFactory", "PhotoFactory", "SubjectFactory", "tiny_image_bytes"]
