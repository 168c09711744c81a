"""A check that fails on every retry (a bug, unreadable storage) rejects the photo as
check_failed instead of leaving it at "Checking" for ever: through the stub broker and a
worker (Dramatiq's Retries middleware hands the spent message to check_photo_gave_up), and the
service's guarded update on its own."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from apps.photos import checks, services
from apps.photos.models import Photo
from tests.factories import PhotoFactory, SubjectFactory
from tests.photos import images

ADVICE = "We couldn't check this photo. Please upload it again."


def pending_photo(**kwargs) -> Photo:
    photo = PhotoFactory(
        status=Photo.Status.PENDING, image="", face_crop="", checked_at=None, **kwargs
    )
    photo.original.save("original.bin", ContentFile(images.good_jpeg()), save=True)
    return photo


def send_check(broker, photo_id: int) -> None:
    # Backoff in milliseconds, so the three retries take no real time.
    broker.get_actor("check_photo").send_with_options(
        args=(photo_id,), min_backoff=1, max_backoff=5
    )


def drain(broker, worker) -> None:
    for queue in ("cpu", "default", "cpu", "default"):
        broker.join(queue, timeout=30_000, fail_fast=False)
    worker.join()


def test_check_failed_has_advice():
    assert checks.advice_for([checks.CHECK_FAILED]) == [ADVICE]


@pytest.mark.django_db(transaction=True)
def test_a_check_failing_on_every_retry_rejects_the_photo(
    stub_broker, stub_worker, enqueued, monkeypatch
):
    attempts: list[int] = []

    def broken_analysis(data, *, thresholds):
        attempts.append(len(data))
        raise RuntimeError("analysis bug")

    monkeypatch.setattr("apps.photos.analysis.analyze_photo", broken_analysis)
    photo = pending_photo()
    original = photo.original.name

    send_check(stub_broker, photo.pk)
    drain(stub_broker, stub_worker)

    max_retries = stub_broker.get_actor("check_photo").options["max_retries"]
    assert len(attempts) == max_retries + 1  # every retry ran, then it gave up
    photo.refresh_from_db()
    assert (photo.status, photo.reasons) == (Photo.Status.REJECTED, ["check_failed"])
    assert photo.checked_at is not None
    assert photo.original.name == "" and not default_storage.exists(original)
    gave_up = [m for m in enqueued.messages if m.actor_name == "check_photo_gave_up"]
    assert len(gave_up) == 1 and gave_up[0].args[0]["args"] == [photo.pk]
    changed = [m.args for m in enqueued.messages if m.actor_name == "subject_photos_changed"]
    assert changed == [(photo.subject_id,)]
    assert [m.actor_name for m in stub_broker.dead_letters] == ["check_photo"]


@pytest.mark.django_db(transaction=True)
def test_a_check_that_fails_once_then_works_is_not_rejected(
    stub_broker, stub_worker, enqueued, monkeypatch
):
    from apps.photos import analysis

    real = analysis.analyze_photo
    calls: list[int] = []

    def flaky_analysis(data, *, thresholds):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("storage hiccup")
        return real(data, thresholds=thresholds)

    monkeypatch.setattr("apps.photos.analysis.analyze_photo", flaky_analysis)
    photo = pending_photo()

    send_check(stub_broker, photo.pk)
    drain(stub_broker, stub_worker)

    photo.refresh_from_db()
    assert photo.status == Photo.Status.ACCEPTED, photo.reasons
    assert "check_photo_gave_up" not in enqueued.names()
    assert stub_broker.dead_letters == []


def test_photo_check_failed_only_rejects_a_pending_photo(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list = []
    monkeypatch.setattr("config.tasks.send_now", lambda name, *args, **opts: sent.append(name))
    accepted = PhotoFactory()
    pending = pending_photo()

    with django_capture_on_commit_callbacks(execute=True):
        assert services.photo_check_failed(photo_id=accepted.pk) is False
        assert services.photo_check_failed(photo_id=pending.pk) is True
        assert services.photo_check_failed(photo_id=pending.pk) is False  # redelivered
        assert services.photo_check_failed(photo_id=0) is False

    accepted.refresh_from_db()
    pending.refresh_from_db()
    assert (accepted.status, accepted.reasons) == (Photo.Status.ACCEPTED, [])
    assert (pending.status, pending.reasons) == (Photo.Status.REJECTED, ["check_failed"])
    assert sent == ["subject_photos_changed"]


def test_the_upload_page_stops_polling_and_shows_the_advice(client, owner, workspace, monkeypatch):
    monkeypatch.setattr("config.tasks.send_now", lambda name, *args, **opts: None)
    subject = SubjectFactory(workspace=workspace, user=owner)
    photo = pending_photo(subject=subject)
    client.force_login(owner)
    url = reverse(
        "photos:subject_photos_partial",
        kwargs={"workspace": workspace.slug, "subject": subject.public_id},
    )
    assert "every 2s" in client.get(url).text

    services.photo_check_failed(photo_id=photo.pk)

    page = client.get(url).text
    assert "every 2s" not in page
    assert "We couldn&#x27;t check this photo. Please upload it again." in page


@pytest.mark.django_db(transaction=True)
def test_a_photo_whose_check_message_was_lost_is_checked_after_the_requeue(
    stub_broker, stub_worker
):
    from datetime import timedelta

    from django.utils import timezone

    lost = pending_photo(subject=SubjectFactory())
    recent = pending_photo(subject=lost.subject)
    Photo.unscoped.filter(pk=lost.pk).update(uploaded_at=timezone.now() - timedelta(hours=1))

    stub_broker.get_actor("requeue_stale_photo_checks").send()
    drain(stub_broker, stub_worker)

    lost.refresh_from_db()
    recent.refresh_from_db()
    assert lost.status == Photo.Status.ACCEPTED  # checked now, from the re-sent message
    assert recent.status == Photo.Status.PENDING  # its own message is presumed on its way
