"""Adapter retention: a trained model's file is deleted ADAPTER_RETENTION_DAYS after training
(``LoraAdapter.purge_after``, set by the training service). The row stays as history, with
``purged_at`` set and ``file`` cleared; generation refuses a purged adapter (ADAPTER_EXPIRED)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.accounts.services import audit_record
from apps.models.models import GenerationJob, JobStatus, LoraAdapter

logger = logging.getLogger(__name__)

ADAPTER_EXPIRED = (
    "Your personal model has expired under our retention policy; start a new order to train a "
    "new one."
)


def adapters_purge_expired(*, now: datetime | None = None, batch_size: int = 100) -> dict[str, int]:
    """Delete the file of every adapter past its purge_after, then mark the row purged.

    Same rules as ``photos_purge_expired``: batches locked with SKIP LOCKED (two runs at once
    take disjoint rows), storage first (a failed delete leaves the row pointing at its file for
    the next run), a purged row is never selected again. An adapter with a queued or running
    generation job waits for the next run rather than failing that job; the row lock also
    orders the purge against ``generation_job_create``, which locks the adapter before queueing.
    Logs and returns counts only.
    """
    now = now or timezone.now()
    counts = {"adapters": 0, "files": 0, "failed": 0}
    failed: list[int] = []
    in_use = GenerationJob.unscoped.filter(
        adapter_id=OuterRef("pk"), status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    )
    while True:
        with transaction.atomic():
            batch = list(
                LoraAdapter.unscoped.select_for_update(skip_locked=True)
                .filter(purge_after__lte=now, purged_at__isnull=True)
                .exclude(Exists(in_use))
                .exclude(pk__in=failed)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                break
            for adapter in batch:
                try:
                    if adapter.file.name:
                        adapter.file.storage.delete(adapter.file.name)  # missing: no error
                except Exception:
                    logger.exception(
                        "adapter purge: storage delete failed for adapter %s", adapter.pk
                    )
                    failed.append(adapter.pk)
                    counts["failed"] += 1
                    continue
                marked = LoraAdapter.unscoped.filter(pk=adapter.pk, purged_at__isnull=True).update(
                    purged_at=now, file=""
                )
                counts["adapters"] += marked
                counts["files"] += marked if adapter.file.name else 0
    if counts["adapters"] or counts["failed"]:
        audit_record(actor=None, action="adapters.purge", target_type="adapter", details=counts)
    logger.info("adapter purge: %(adapters)d adapters, %(files)d files, %(failed)d failed", counts)
    return counts
