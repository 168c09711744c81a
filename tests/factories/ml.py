"""factory_boy factories for ml (base models, styles, adapters, GPU jobs)."""

from __future__ import annotations

import factory
from django.core.files.base import ContentFile

from apps.models.models import (
    BaseModel,
    Family,
    GenerationJob,
    JobStatus,
    LoraAdapter,
    Style,
    TrainingJob,
)
from tests.factories.photos import SubjectFactory, TenantModelFactory


class BaseModelFactory(factory.django.DjangoModelFactory):
    """A registry row; point ``path`` at a real directory (tests/models/conftest.py builds the
    tiny models) for tests that load it."""

    class Meta:
        model = BaseModel
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"base-{n}")
    family = Family.SDXL
    path = factory.Sequence(lambda n: f"/nonexistent/base-{n}")
    revision = "0" * 64
    train_defaults = factory.LazyFunction(lambda: {"steps": 10, "rank": 4, "resolution": 64})
    inference_defaults = factory.LazyFunction(
        lambda: {"steps": 2, "guidance": 5.0, "width": 64, "height": 64, "batch_size": 2}
    )


class StyleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Style
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Style {n}")
    slug = factory.Sequence(lambda n: f"style-{n}")
    prompt_template = "headshot photo of {subject}, {backdrop}, {lighting}"
    negative_prompt = "blurry, cartoon"
    backdrop = "grey studio backdrop"
    outfit = "a dark blazer"
    lighting = "soft light"
    parameters = factory.LazyFunction(
        lambda: {"sdxl": {"guidance": 6.0}, "flux": {"guidance": 3.5}}
    )


class LoraAdapterFactory(TenantModelFactory):
    """An adapter row with a small stored file (not a loadable LoRA)."""

    class Meta:
        model = LoraAdapter

    subject = factory.SubFactory(SubjectFactory)
    workspace = factory.SelfAttribute("subject.workspace")
    base_model = factory.SubFactory(BaseModelFactory)
    version = factory.Sequence(lambda n: n + 1)
    file = factory.LazyFunction(
        lambda: ContentFile(b"not a real adapter", name="adapter.safetensors")
    )
    sha256 = ""
    size_bytes = 18
    rank = 4
    steps = 10
    trigger_token = "ohwx"


class TrainingJobFactory(TenantModelFactory):
    class Meta:
        model = TrainingJob

    subject = factory.SubFactory(SubjectFactory)
    workspace = factory.SelfAttribute("subject.workspace")
    base_model = factory.SubFactory(BaseModelFactory)
    status = JobStatus.QUEUED
    config = factory.LazyAttribute(lambda o: dict(o.base_model.train_defaults))
    progress_total = factory.LazyAttribute(lambda o: int(o.config.get("steps") or 0))


class GenerationJobFactory(TenantModelFactory):
    class Meta:
        model = GenerationJob

    adapter = factory.SubFactory(LoraAdapterFactory)
    workspace = factory.SelfAttribute("adapter.workspace")
    style = factory.SubFactory(StyleFactory)
    status = JobStatus.QUEUED
    count = 4
    seed_base = 1000
    progress_total = factory.SelfAttribute("count")


__all__ = [
    "BaseModelFactory",
    "GenerationJobFactory",
    "LoraAdapterFactory",
    "StyleFactory",
    "TrainingJobFactory",
]
