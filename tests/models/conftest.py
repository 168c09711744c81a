"""Fixtures for the GPU-side tests: the tiny models (built once per machine into
settings.MODEL_ROOT, var/test-models), subjects with real accepted photos, and fast training
settings. Photos are the astronaut from scikit-image (a real face), pasted at different
places on real backgrounds, stored through the storage API as accepted Photo rows with their
face boxes (created with factories; the photo checks have their own tests)."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import dramatiq
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image
from skimage import data as skdata

from apps.models import services
from apps.models.services import jobs
from tests.factories import PhotoFactory, SubjectFactory

FAMILIES = ("sdxl", "flux")
# dlib's box of the astronaut's face in her 512x512 image (left, top, right, bottom).
ASTRONAUT_FACE = (179, 83, 267, 171)
CANVAS = 576
# Training settings small enough for CPU tests: ~10 steps at 64 px, rank 4.
FAST_TRAIN = {
    "rank": 4,
    "alpha": 4,
    "steps": 10,
    "resolution": 64,
    "checkpoint_every": 5,
    "learning_rate": 1e-3,
}
FAST_INFERENCE = {"steps": 2, "guidance": 4.0, "width": 64, "height": 64, "batch_size": 2}


@pytest.fixture(scope="session")
def tiny_model_dirs() -> dict[str, Path]:
    """Build both tiny pipelines once (idempotent: a later session reuses them)."""
    from workers.pipeline.tiny import build_tiny_pipeline

    return {
        family: build_tiny_pipeline(family, services.tiny_model_dir(family)) for family in FAMILIES
    }


@pytest.fixture
def tiny_base(db, tiny_model_dirs):
    """Register a tiny base model with fast test defaults: tiny_base("flux")."""

    def register(family: str = "sdxl", **train):
        model = services.base_model_register_tiny(family=family, make_default=family == "sdxl")
        model.train_defaults = {**FAST_TRAIN, **train}
        model.inference_defaults = dict(FAST_INFERENCE)
        model.save(update_fields=["train_defaults", "inference_defaults"])
        return model

    return register


@cache
def astronaut() -> Image.Image:
    return Image.fromarray(skdata.astronaut())


@cache
def _background(index: int) -> Image.Image:
    name = ("coffee", "chelsea", "rocket", "immunohistochemistry")[index % 4]
    return Image.fromarray(getattr(skdata, name)()).convert("RGB").resize((CANVAS, CANVAS))


@cache
def photo_variant(index: int) -> tuple[bytes, tuple[int, int, int, int]]:
    """JPEG bytes of variant ``index`` and the face box in its pixels."""
    portrait = astronaut()
    left, top, right, bottom = ASTRONAUT_FACE
    if index % 2:
        portrait = portrait.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        left, right = 512 - right, 512 - left
    dx, dy = (index * 9) % 64, (index * 23) % 64
    canvas = _background(index).copy()
    canvas.paste(portrait, (dx, dy))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=90)
    return out.getvalue(), (left + dx, top + dy, right + dx, bottom + dy)


@cache
def astronaut_embedding() -> tuple[float, ...]:
    from apps.photos.analysis import face_embedding_for_image

    found = face_embedding_for_image(astronaut())
    assert found is not None
    return tuple(found[1])


def add_accepted_photos(subject, count: int | None = None) -> list:
    count = settings.PHOTO_MIN_PER_SUBJECT if count is None else count
    photos = []
    for index in range(count):
        data, box = photo_variant(index)
        photos.append(
            PhotoFactory(
                subject=subject,
                image=ContentFile(data, name="photo.jpg"),
                width=CANVAS,
                height=CANVAS,
                face_box=list(box),
                embedding=list(astronaut_embedding()),
            )
        )
    return photos


@pytest.fixture
def trainable_subject(workspace):
    """A subject with PHOTO_MIN_PER_SUBJECT accepted photos and a reference embedding."""
    subject = SubjectFactory(workspace=workspace, reference_embedding=list(astronaut_embedding()))
    add_accepted_photos(subject)
    return subject


@pytest.fixture
def every_beat(monkeypatch):
    """Heartbeats and ownership checks on every call (production: at most every 2 s), so a
    cancel is noticed at the next training step."""
    monkeypatch.setattr(jobs, "BEAT_SECONDS", 0.0)


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, tuple]]:
    """Actor sends made by enqueue_on_commit, recorded instead of sent (for tests that drive
    services directly; the actor tests use the stub broker and a worker)."""
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        "config.tasks.send_now", lambda name, *args, **options: calls.append((name, args))
    )
    return calls


def run_gpu_queue(broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
    """Drain the gpu and default queues through the worker; an actor's error fails the test."""
    for _ in range(3):  # finishing a job enqueues follow-ups on the default queue
        broker.join("gpu", fail_fast=True, timeout=300_000)
        broker.join("default", fail_fast=True, timeout=60_000)
        worker.join()
