"""check_photo and purge_expired_photos through the stub broker and a worker thread: the
messages are JSON-encoded on enqueue and decoded by the worker, as with Redis."""

from __future__ import annotations

from datetime import timedelta

import dramatiq
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from apps.photos import services
from apps.photos.models import Photo
from tests.factories import PhotoFactory, SubjectFactory, UserFactory
from tests.photos import images
from tests.photos.conftest import as_upload


def drain(broker, worker) -> None:
    for queue in ("cpu", "default", "cpu", "default"):  # a check enqueues onto default
        broker.join(queue, timeout=30_000)
    worker.join()


def test_photo_actors_are_declared_on_the_right_queues():
    broker = dramatiq.get_broker()
    check = broker.get_actor("check_photo")
    purge = broker.get_actor("purge_expired_photos")
    assert check.queue_name == "cpu"
    assert purge.queue_name == "default"
    for actor in (check, purge):
        for option in ("max_retries", "min_backoff", "max_backoff", "time_limit"):
            assert option in actor.options


@pytest.mark.django_db(transaction=True)
def test_uploads_are_checked_by_the_worker(stub_broker, stub_worker, enqueued):
    subject = SubjectFactory()
    uploader = UserFactory()
    good = services.photo_upload(
        subject=subject, upload=as_upload(images.good_jpeg()), actor=uploader
    )
    broken = services.photo_upload(
        subject=subject, upload=as_upload(images.truncated_jpeg(), "IMG_0002.jpg"), actor=uploader
    )
    drain(stub_broker, stub_worker)

    good.refresh_from_db()
    broken.refresh_from_db()
    assert good.status == Photo.Status.ACCEPTED, good.reasons
    assert broken.status == Photo.Status.REJECTED
    assert broken.reasons == ["corrupt"]
    checks_sent = [m for m in enqueued.messages if m.actor_name == "check_photo"]
    assert [m.args for m in checks_sent] == [(good.pk,), (broken.pk,)]  # ids only
    changed = [m for m in enqueued.messages if m.actor_name == "subject_photos_changed"]
    assert [m.args for m in changed] == [(subject.pk,), (subject.pk,)]
    assert stub_broker.dead_letters == []


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_check_does_nothing(stub_broker, stub_worker, enqueued):
    subject = SubjectFactory()
    photo = services.photo_upload(
        subject=subject, upload=as_upload(images.good_jpeg()), actor=UserFactory()
    )
    drain(stub_broker, stub_worker)
    before = Photo.unscoped.values().get(pk=photo.pk)
    count = len(enqueued.messages)

    stub_broker.get_actor("check_photo").send(photo.pk)
    drain(stub_broker, stub_worker)

    assert Photo.unscoped.values().get(pk=photo.pk) == before
    assert enqueued.names()[count:] == ["check_photo"]  # no second subject_photos_changed


@pytest.mark.django_db(transaction=True)
def test_the_purge_actor_purges_expired_photos(stub_broker, stub_worker):
    photo = PhotoFactory(purge_after=timezone.now() - timedelta(minutes=1))
    kept = PhotoFactory(purge_after=timezone.now() + timedelta(days=1))
    name = photo.image.name

    stub_broker.get_actor("purge_expired_photos").send()
    drain(stub_broker, stub_worker)

    photo.refresh_from_db()
    kept.refresh_from_db()
    assert photo.purged_at is not None and photo.image.name == ""
    assert not default_storage.exists(name)
    assert kept.purged_at is None and default_storage.exists(kept.image.name)
