"""Retention: purge dates, subject_mark_trained, and the purge itself (frozen clock, run twice at
once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.storage import FileSystemStorage, default_storage

from apps.accounts.models import AuditLog
from apps.photos import services
from apps.photos.models import Photo
from tests.concurrency import run_twice_at_once
from tests.factories import PhotoFactory, SubjectFactory, WorkspaceFactory

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def expired_photo(subject, **kwargs) -> Photo:
    uploaded = NOW - timedelta(days=31)
    return PhotoFactory(
        subject=subject,
        uploaded_at=uploaded,
        purge_after=uploaded + timedelta(days=30),
        embedding=[0.1] * 128,
        face_box=[1, 2, 3, 4],
        **kwargs,
    )


def test_purge_after_is_the_earlier_of_upload_and_training_clocks(db, settings):
    settings.PHOTO_RETENTION_DAYS = 30
    settings.PHOTO_RETENTION_AFTER_TRAINING_DAYS = 7
    subject = SubjectFactory()
    photo = PhotoFactory(subject=subject, uploaded_at=NOW)
    assert services.photo_purge_after(photo) == NOW + timedelta(days=30)

    subject.trained_at = NOW + timedelta(days=2)
    assert services.photo_purge_after(photo) == NOW + timedelta(days=9)
    subject.trained_at = NOW + timedelta(days=25)  # training late: the upload clock wins
    assert services.photo_purge_after(photo) == NOW + timedelta(days=30)


def test_workspace_overrides_the_retention_days(db):
    workspace = WorkspaceFactory(photo_retention_days=3, photo_retention_after_training_days=0)
    subject = SubjectFactory(workspace=workspace)
    photo = PhotoFactory(subject=subject, uploaded_at=NOW)
    assert services.photo_purge_after(photo) == NOW + timedelta(days=3)
    subject.trained_at = NOW + timedelta(days=1)
    assert services.photo_purge_after(photo) == NOW + timedelta(days=1)  # 0 days is honoured


def test_subject_mark_trained_brings_purge_dates_forward(db):
    subject = SubjectFactory()
    photos = [
        PhotoFactory(subject=subject, uploaded_at=NOW, purge_after=NOW + timedelta(days=30))
        for _ in range(3)
    ]
    other = PhotoFactory(uploaded_at=NOW, purge_after=NOW + timedelta(days=30))

    assert services.subject_mark_trained(subject=subject, when=NOW + timedelta(days=1)) == 3
    assert services.subject_mark_trained(subject=subject, when=NOW + timedelta(days=1)) == 0
    subject.refresh_from_db()
    assert subject.trained_at == NOW + timedelta(days=1)
    for photo in photos:
        photo.refresh_from_db()
        assert photo.purge_after == NOW + timedelta(days=8)
    other.refresh_from_db()
    assert other.purge_after == NOW + timedelta(days=30)


@time_machine.travel(NOW, tick=False)
def test_purge_deletes_files_then_marks_rows_and_is_idempotent(db):
    subject = SubjectFactory()
    expired = [expired_photo(subject) for _ in range(3)]
    expired[0].original.save("original.bin", expired[0].image.file, save=True)
    fresh = PhotoFactory(subject=subject, uploaded_at=NOW, purge_after=NOW + timedelta(days=30))
    names = [f.name for p in expired for f in (p.image, p.face_crop, p.original) if f.name]
    assert len(names) == 7 and all(default_storage.exists(n) for n in names)

    assert services.photos_purge_expired() == {"photos": 3, "files": 7, "failed": 0}

    assert not any(default_storage.exists(n) for n in names)
    for photo in expired:
        photo.refresh_from_db()
        assert photo.purged_at == NOW
        assert (photo.image.name, photo.face_crop.name, photo.original.name) == ("", "", "")
        assert photo.embedding is None and photo.face_box is None
    fresh.refresh_from_db()
    assert fresh.purged_at is None and default_storage.exists(fresh.image.name)
    log = AuditLog.objects.get(action="photos.purge")
    assert log.details == {"photos": 3, "files": 7, "failed": 0}

    assert services.photos_purge_expired() == {"photos": 0, "files": 0, "failed": 0}
    assert AuditLog.objects.filter(action="photos.purge").count() == 1


@time_machine.travel(NOW, tick=False)
def test_a_failed_storage_delete_leaves_the_row_for_the_next_run(db, monkeypatch):
    photo = expired_photo(SubjectFactory())
    real_delete = FileSystemStorage.delete
    monkeypatch.setattr(FileSystemStorage, "delete", lambda self, name: 1 / 0)
    assert services.photos_purge_expired()["failed"] == 1
    photo.refresh_from_db()
    assert photo.purged_at is None and photo.image.name  # still points at its files

    monkeypatch.setattr(FileSystemStorage, "delete", real_delete)
    assert services.photos_purge_expired()["photos"] == 1


@pytest.mark.django_db(transaction=True)
def test_two_purges_at_once_delete_each_file_once(monkeypatch):
    with time_machine.travel(NOW, tick=False):
        subject = SubjectFactory()
        photos = [expired_photo(subject) for _ in range(24)]
        expected = sorted(f.name for p in photos for f in (p.image, p.face_crop))

        results, deleted = run_twice_at_once(
            monkeypatch, lambda: services.photos_purge_expired(batch_size=4)
        )

    assert all(r["photos"] > 0 for r in results)  # both runs did part of the work
    assert sum(r["photos"] for r in results) == 24
    assert sum(r["files"] for r in results) == 48
    assert sorted(deleted) == expected  # every file deleted, none twice
    assert Photo.unscoped.filter(purged_at=NOW).count() == 24
