"""Fixtures for the photo upload tests. Image bytes come from tests/photos/images.py (cached per
session), so each test image is built once and the dlib analysis is the only per-test cost."""

from __future__ import annotations

import threading
from collections.abc import Callable

import dramatiq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.photos import services
from apps.photos.models import Photo
from tests.factories import SubjectFactory


def as_upload(data: bytes, name: str = "IMG_0001.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def subject(workspace, owner):
    return SubjectFactory(workspace=workspace, user=owner)


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, tuple]]:
    """Actor sends made by enqueue_on_commit, recorded instead of sent (for tests that drive
    services directly; the actor tests use the real stub broker and a worker)."""
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        "config.tasks.send_now", lambda name, *args, **options: calls.append((name, args))
    )
    return calls


@pytest.fixture
def upload_and_check(django_capture_on_commit_callbacks, sent, owner) -> Callable:
    """Upload bytes to a subject and run the check the worker would run (same process)."""

    def run(subject, data: bytes, name: str = "IMG_0001.jpg") -> Photo:
        with django_capture_on_commit_callbacks(execute=True):
            photo = services.photo_upload(
                subject=subject, upload=as_upload(data, name), actor=owner
            )
        with django_capture_on_commit_callbacks(execute=True):
            services.photo_check(photo_id=photo.pk)
        photo.refresh_from_db()
        return photo

    return run


class EnqueueRecorder(dramatiq.Middleware):
    """Records every message the broker enqueues (after JSON encoding)."""

    def __init__(self) -> None:
        self.messages: list[dramatiq.Message] = []
        self._lock = threading.Lock()

    def after_enqueue(self, broker, message, delay):
        with self._lock:
            self.messages.append(dramatiq.Message.decode(message.encode()))

    def names(self) -> list[str]:
        with self._lock:
            return [m.actor_name for m in self.messages]


@pytest.fixture
def enqueued(stub_broker):
    recorder = EnqueueRecorder()
    stub_broker.add_middleware(recorder)
    yield recorder
    stub_broker.middleware.remove(recorder)
