"""Generated-image retention (files first, then the row; favourites too; two runs at once), its
daily actor, and `manage.py purge_expired` running every purge."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management import call_command

from apps.accounts.models import AuditLog
from apps.models.models import LoraAdapter
from apps.orders.models import ZipExport
from apps.photos.models import DataExport, GeneratedImage, Photo
from apps.photos.retention import generated_images_purge_expired
from tests.concurrency import run_twice_at_once
from tests.factories import (
    GeneratedImageFactory,
    LoraAdapterFactory,
    PhotoFactory,
    UserFactory,
    ZipExportFactory,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def expired_image(**kwargs) -> GeneratedImage:
    return GeneratedImageFactory(purge_after=NOW - timedelta(days=1), **kwargs)


def files_of(image: GeneratedImage) -> list[str]:
    return [image.image.name, image.thumbnail.name]


@time_machine.travel(NOW, tick=False)
def test_purge_deletes_files_then_rows_favourites_included(db):
    expired = [expired_image(), expired_image(is_favourite=True)]
    replacement = expired_image()
    GeneratedImage.unscoped.filter(pk=expired[0].pk).update(replaced_by=replacement)
    fresh = GeneratedImageFactory(purge_after=NOW + timedelta(days=1))
    undated = GeneratedImageFactory(purge_after=None)
    names = [n for image in [*expired, replacement] for n in files_of(image)]
    assert all(default_storage.exists(n) for n in names)

    assert generated_images_purge_expired() == {"images": 3, "files": 6, "failed": 0}

    assert not any(default_storage.exists(n) for n in names)
    assert set(GeneratedImage.unscoped.values_list("pk", flat=True)) == {fresh.pk, undated.pk}
    assert all(default_storage.exists(n) for n in files_of(fresh) + files_of(undated))
    log = AuditLog.objects.get(action="generated_images.purge")
    assert log.details == {"images": 3, "files": 6, "failed": 0}

    assert generated_images_purge_expired() == {"images": 0, "files": 0, "failed": 0}
    assert AuditLog.objects.filter(action="generated_images.purge").count() == 1


@time_machine.travel(NOW, tick=False)
def test_a_failed_storage_delete_keeps_the_image_for_the_next_run(db, monkeypatch):
    image = expired_image()
    real_delete = FileSystemStorage.delete
    monkeypatch.setattr(FileSystemStorage, "delete", lambda self, name: 1 / 0)
    assert generated_images_purge_expired() == {"images": 0, "files": 0, "failed": 1}
    image.refresh_from_db()  # still there, still pointing at its files
    assert default_storage.exists(image.image.name)

    monkeypatch.setattr(FileSystemStorage, "delete", real_delete)
    assert generated_images_purge_expired()["images"] == 1
    assert not GeneratedImage.unscoped.filter(pk=image.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_two_image_purges_at_once_delete_each_file_once(monkeypatch):
    with time_machine.travel(NOW, tick=False):
        images = [expired_image() for _ in range(12)]
        expected = sorted(n for image in images for n in files_of(image))
        results, deleted = run_twice_at_once(
            monkeypatch, lambda: generated_images_purge_expired(batch_size=3)
        )

    assert all(r["images"] > 0 for r in results)
    assert sum(r["images"] for r in results) == 12
    assert sorted(deleted) == expected  # every file deleted, none twice
    assert not GeneratedImage.unscoped.exists()


@pytest.mark.django_db(transaction=True)
def test_the_daily_actor_purges_expired_images(stub_broker, stub_worker):
    actor = stub_broker.get_actor("purge_expired_generated_images")
    assert actor.queue_name == "default"
    image = GeneratedImageFactory(purge_after=datetime.now(UTC) - timedelta(minutes=1))
    kept = GeneratedImageFactory(purge_after=datetime.now(UTC) + timedelta(days=1))

    actor.send()
    stub_broker.join("default", timeout=30_000)
    stub_worker.join()

    assert list(GeneratedImage.unscoped.values_list("pk", flat=True)) == [kept.pk]
    assert not default_storage.exists(image.image.name)
    assert stub_broker.dead_letters == []


def test_purge_expired_command_runs_every_purge_and_prints_counts(db, settings):
    now = datetime.now(UTC)
    photo = PhotoFactory(purge_after=now - timedelta(seconds=1))
    adapter = LoraAdapterFactory(purge_after=now - timedelta(seconds=1))
    image = GeneratedImageFactory(purge_after=now - timedelta(seconds=1))
    zip_export = ZipExportFactory(
        status=ZipExport.Status.READY, file=ContentFile(b"zip", name="portraits.zip")
    )
    ZipExport.unscoped.filter(pk=zip_export.pk).update(
        created_at=now - timedelta(days=settings.ZIP_EXPORT_RETENTION_DAYS + 1)
    )
    data_export = DataExport.unscoped.create(
        workspace=photo.workspace,
        user=UserFactory(),
        file="ws/x/exports/old.zip",
        expires_at=now - timedelta(seconds=1),
    )
    out = io.StringIO()

    call_command("purge_expired", stdout=out)

    assert json.loads(out.getvalue()) == {
        "photos": {"photos": 1, "files": 2, "failed": 0},
        "adapters": {"adapters": 1, "files": 1, "failed": 0},
        "generated_images": {"images": 1, "files": 2, "failed": 0},
        "zip_exports": {"files": 1, "rows": 1},
        "data_exports": {"exports": 1},
    }
    assert Photo.unscoped.get(pk=photo.pk).purged_at is not None
    assert LoraAdapter.unscoped.get(pk=adapter.pk).purged_at is not None
    assert not GeneratedImage.unscoped.filter(pk=image.pk).exists()
    assert not ZipExport.unscoped.filter(pk=zip_export.pk).exists()
    assert not DataExport.unscoped.filter(pk=data_export.pk).exists()
