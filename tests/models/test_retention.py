"""Adapter retention: the purge (storage first, row kept and marked, idempotent, two runs at
once), the daily actor, generation refusing a purged adapter, and generated images getting
their own purge date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage, default_storage

from apps.accounts.models import AuditLog
from apps.models import services
from apps.models.models import GenerationJob, JobStatus, LoraAdapter
from apps.photos.models import GeneratedImage
from tests.concurrency import run_twice_at_once
from tests.factories import (
    BaseModelFactory,
    GenerationJobFactory,
    LoraAdapterFactory,
    StyleFactory,
    SubjectFactory,
)
from tests.models.test_generation import WORKER, StandInGenerator

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EXPIRED_MESSAGE = (
    "Your personal model has expired under our retention policy; start a new order to train a "
    "new one."
)


def expired_adapter(**kwargs) -> LoraAdapter:
    return LoraAdapterFactory(purge_after=NOW - timedelta(days=1), **kwargs)


@time_machine.travel(NOW, tick=False)
def test_purge_deletes_the_file_keeps_the_row_and_is_idempotent(db):
    expired = [expired_adapter() for _ in range(2)]
    fresh = LoraAdapterFactory(purge_after=NOW + timedelta(days=1))
    undated = LoraAdapterFactory(purge_after=None)
    names = [a.file.name for a in expired]
    assert all(default_storage.exists(n) for n in names)

    assert services.adapters_purge_expired() == {"adapters": 2, "files": 2, "failed": 0}

    assert not any(default_storage.exists(n) for n in names)
    for adapter in expired:
        adapter.refresh_from_db()  # the row stays: history of what was trained
        assert (adapter.purged_at, adapter.file.name) == (NOW, "")
    for kept in (fresh, undated):
        kept.refresh_from_db()
        assert kept.purged_at is None and default_storage.exists(kept.file.name)
    log = AuditLog.objects.get(action="adapters.purge")
    assert log.details == {"adapters": 2, "files": 2, "failed": 0}

    assert services.adapters_purge_expired() == {"adapters": 0, "files": 0, "failed": 0}
    assert AuditLog.objects.filter(action="adapters.purge").count() == 1


@time_machine.travel(NOW, tick=False)
def test_an_adapter_with_a_queued_generation_waits_for_the_next_run(db):
    adapter = expired_adapter()
    job = GenerationJobFactory(adapter=adapter, status=JobStatus.QUEUED)

    assert services.adapters_purge_expired()["adapters"] == 0
    assert default_storage.exists(adapter.file.name)

    GenerationJob.unscoped.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    assert services.adapters_purge_expired()["adapters"] == 1


@time_machine.travel(NOW, tick=False)
def test_a_failed_storage_delete_leaves_the_adapter_for_the_next_run(db, monkeypatch):
    adapter = expired_adapter()
    real_delete = FileSystemStorage.delete
    monkeypatch.setattr(FileSystemStorage, "delete", lambda self, name: 1 / 0)
    assert services.adapters_purge_expired() == {"adapters": 0, "files": 0, "failed": 1}
    adapter.refresh_from_db()
    assert adapter.purged_at is None and adapter.file.name  # still points at its file

    monkeypatch.setattr(FileSystemStorage, "delete", real_delete)
    assert services.adapters_purge_expired()["adapters"] == 1
    assert not default_storage.exists(adapter.file.name)


@pytest.mark.django_db(transaction=True)
def test_two_adapter_purges_at_once_delete_each_file_once(monkeypatch):
    with time_machine.travel(NOW, tick=False):
        adapters = [expired_adapter() for _ in range(12)]
        expected = sorted(a.file.name for a in adapters)
        results, deleted = run_twice_at_once(
            monkeypatch, lambda: services.adapters_purge_expired(batch_size=3)
        )

    assert all(r["adapters"] > 0 for r in results)
    assert sum(r["adapters"] for r in results) == 12
    assert sorted(deleted) == expected  # every file deleted, none twice
    assert LoraAdapter.unscoped.filter(purged_at=NOW, file="").count() == 12


@pytest.mark.django_db(transaction=True)
def test_the_daily_actor_purges_expired_adapters(stub_broker, stub_worker):
    actor = stub_broker.get_actor("purge_expired_adapters")
    assert actor.queue_name == "default"
    adapter = LoraAdapterFactory(purge_after=datetime.now(UTC) - timedelta(minutes=1))
    name = adapter.file.name

    actor.send()
    stub_broker.join("default", timeout=30_000)
    stub_worker.join()

    adapter.refresh_from_db()
    assert adapter.purged_at is not None and adapter.file.name == ""
    assert not default_storage.exists(name)
    assert stub_broker.dead_letters == []


def test_generation_refuses_a_purged_adapter_in_plain_words(db, monkeypatch):
    sent: list = []
    monkeypatch.setattr("config.tasks.send_now", lambda name, *args, **opts: sent.append(name))
    adapter = expired_adapter()
    services.adapters_purge_expired(now=NOW)
    adapter.refresh_from_db()

    with pytest.raises(ValidationError) as caught:
        services.generation_job_create(adapter=adapter, style=StyleFactory(), count=2)
    assert caught.value.messages == [EXPIRED_MESSAGE]
    # A stale instance (loaded before the purge) is refused too: the row is re-read under lock.
    stale = LoraAdapter.unscoped.get(pk=adapter.pk)
    stale.purged_at, stale.file = None, "ws/stale/adapters/x.safetensors"
    with pytest.raises(ValidationError, match="expired under our retention policy"):
        services.generation_job_create(adapter=stale, style=StyleFactory(), count=2)
    assert not GenerationJob.unscoped.exists() and sent == []


def test_a_job_whose_adapter_was_purged_fails_with_the_same_message(db, monkeypatch):
    monkeypatch.setattr("config.tasks.send_now", lambda name, *args, **opts: None)
    adapter = LoraAdapterFactory()
    job = GenerationJobFactory(adapter=adapter)
    LoraAdapter.unscoped.filter(pk=adapter.pk).update(purged_at=NOW, file="")

    assert services.generation_job_run(job_id=job.pk, worker_id=WORKER) == "failed"

    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, EXPIRED_MESSAGE)
    assert not GeneratedImage.unscoped.filter(generation_job=job).exists()


@time_machine.travel(NOW, tick=False)
def test_generated_images_get_their_own_purge_date(db, settings, monkeypatch):
    from workers.pipeline import generate

    settings.GENERATED_RETENTION_DAYS = 365
    monkeypatch.setattr("config.tasks.send_now", lambda name, *args, **opts: None)
    generator = StandInGenerator()
    monkeypatch.setattr(generate, "get_generator", lambda model_dir, family: generator)
    adapter = LoraAdapterFactory(
        subject=SubjectFactory(), base_model=BaseModelFactory(family="flux")
    )
    job = GenerationJobFactory(adapter=adapter, count=2, seed_base=11)

    assert services.generation_job_run(job_id=job.pk, worker_id=WORKER) == "succeeded"

    dates = set(
        GeneratedImage.unscoped.filter(generation_job=job).values_list("purge_after", flat=True)
    )
    assert dates == {NOW + timedelta(days=365)}
