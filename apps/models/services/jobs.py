"""What the GPU jobs share: taking a job, heartbeats, failure and retry, the reaper, cancelling.

A job is owned by one worker at a time: the guarded QUEUED→RUNNING update writes its
``worker_id``, and every later write by that worker is guarded by (status=RUNNING, worker_id).
A worker that stops beating for GPU_JOB_STALE_SECONDS loses the job to the reaper (or to a
redelivered message), and its own next beat finds it no longer owns the job and stops.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from datetime import datetime, timedelta
from types import ModuleType

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.models.models import GenerationJob, JobStatus, TrainingJob
from config.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
TERMINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
# At most one heartbeat/progress write (and ownership check) per this many seconds.
BEAT_SECONDS = 2.0
# A QUEUED job whose message may have been lost (embedded broker restarted, Redis flushed) is
# sent again after this long; a duplicate message is harmless (the take is guarded).
RESEND_QUEUED_AFTER = timedelta(hours=1)

# model → (actor that runs it, actor told when it ends)
ACTORS: dict[type, tuple[str, str]] = {
    TrainingJob: ("train_lora", "training_finished"),
    GenerationJob: ("generate_images", "generation_finished"),
}

GpuJob = TrainingJob | GenerationJob


class JobFailed(Exception):
    """A failure that retrying will not fix. ``user_message`` is shown to the customer."""

    def __init__(self, user_message: str, detail: str = "") -> None:
        super().__init__(detail or user_message)
        self.user_message = user_message
        self.detail = detail or user_message


class JobRetry(Exception):
    """The attempt failed and the job is back in the queue: the actor's retry runs it again."""


class JobLost(Exception):
    """This worker no longer owns the job (cancelled, erased, or taken over after a stall)."""


def pipeline_module(name: str) -> ModuleType:
    """Import workers.pipeline.<name> (torch, diffusers) only inside GPU-side services; workers
    never reach a model hub."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    return importlib.import_module(f"workers.pipeline.{name}")


def job_take(model: type[GpuJob], *, job_id: int, worker_id: str, now: datetime) -> bool:
    """QUEUED → RUNNING for this worker, or take over a RUNNING job whose heartbeat is stale
    (its worker died: training resumes from the checkpoint). False when there is nothing to do:
    finished, cancelled, gone, or running with a live heartbeat elsewhere."""
    stale = now - timedelta(seconds=settings.GPU_JOB_STALE_SECONDS)
    return bool(
        model.unscoped.filter(pk=job_id)
        .filter(
            Q(status=JobStatus.QUEUED)
            | Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale)
            | Q(status=JobStatus.RUNNING, heartbeat_at__isnull=True)
        )
        .update(
            status=JobStatus.RUNNING,
            worker_id=worker_id[:120],
            attempts=F("attempts") + 1,
            heartbeat_at=now,
            started_at=Coalesce("started_at", Value(now)),
            error="",
        )
    )


class JobLease:
    """This worker's hold on a RUNNING job: heartbeats, progress writes and ownership checks,
    at most one database write per BEAT_SECONDS."""

    def __init__(self, model: type[GpuJob], job_id: int, worker_id: str) -> None:
        self.model = model
        self.job_id = job_id
        self.worker_id = worker_id[:120]
        self.owned = True
        self._last_beat = time.monotonic()
        self._pending: dict = {}

    def owned_rows(self):
        return self.model.unscoped.filter(
            pk=self.job_id, status=JobStatus.RUNNING, worker_id=self.worker_id
        )

    def beat(self, *, force: bool = False, **progress) -> bool:
        """Record progress (written with the next heartbeat); True while this worker owns the
        job."""
        self._pending.update(progress)
        if not self.owned:
            return False
        if not force and time.monotonic() - self._last_beat < BEAT_SECONDS:
            return True
        updated = self.owned_rows().update(heartbeat_at=timezone.now(), **self._pending)
        self._last_beat = time.monotonic()
        self._pending = {}
        if not updated:
            self.owned = False
            logger.info("%s %s: ownership lost", self.model.__name__, self.job_id)
        return self.owned

    def still_owned(self) -> bool:
        return self.beat()


def job_record_failure(
    model: type[GpuJob], *, job_id: int, worker_id: str, exc: BaseException
) -> str:
    """After an attempt raised: back to QUEUED for a retry while attempts remain, else FAILED
    with a plain-words error for the customer (and the 'finished' actor enqueued).

    Returns "retry", "failed", or "lost" (the job was no longer this worker's)."""
    permanent = isinstance(exc, JobFailed)
    detail = (exc.detail if permanent else f"{type(exc).__name__}: {exc}")[:2000]
    now = timezone.now()
    with transaction.atomic():
        job = (
            model.unscoped.select_for_update()
            .filter(pk=job_id, status=JobStatus.RUNNING, worker_id=worker_id[:120])
            .first()
        )
        if job is None:
            return "lost"
        if permanent or job.attempts >= settings.GPU_JOB_MAX_ATTEMPTS:
            model.unscoped.filter(pk=job_id).update(
                status=JobStatus.FAILED,
                error=(exc.user_message if permanent else _generic_error(model))[:300],
                error_detail=detail,
                finished_at=now,
                heartbeat_at=now,
                worker_id="",
            )
            enqueue_on_commit(ACTORS[model][1], job_id)
            logger.warning("%s %s failed: %s", model.__name__, job_id, detail.splitlines()[0])
            return "failed"
        model.unscoped.filter(pk=job_id).update(
            status=JobStatus.QUEUED, error_detail=detail, heartbeat_at=now, worker_id=""
        )
        logger.warning(
            "%s %s attempt %s failed, will retry: %s",
            model.__name__,
            job_id,
            job.attempts,
            detail.splitlines()[0] if detail else "",
        )
        return "retry"


def _generic_error(model: type[GpuJob]) -> str:
    what = "learning your likeness" if model is TrainingJob else "making your portraits"
    return (
        f"Something went wrong while {what}, and retrying did not help. Our team has been "
        "notified; you do not need to do anything, and you will not be charged twice."
    )


def jobs_reap_stuck(
    *,
    now: datetime | None = None,
    stale_after: timedelta | None = None,
    resend_queued_after: timedelta = RESEND_QUEUED_AFTER,
) -> dict[str, int]:
    """Requeue RUNNING jobs whose worker stopped beating (message sent again), or fail them once
    their attempt budget is spent; resend QUEUED jobs whose message may have been lost.

    Safe to run twice at once: every change is a guarded update on the stale state."""
    now = now or timezone.now()
    stale_after = stale_after or timedelta(seconds=settings.GPU_JOB_STALE_SECONDS)
    cutoff = now - stale_after
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    for model, (actor_name, finished_actor) in ACTORS.items():
        stale = Q(status=JobStatus.RUNNING) & (
            Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)
        )
        for job_id, attempts in model.unscoped.filter(stale).values_list("pk", "attempts"):
            with transaction.atomic():
                rows = model.unscoped.filter(Q(pk=job_id) & stale)
                if attempts >= settings.GPU_JOB_MAX_ATTEMPTS:
                    if rows.update(
                        status=JobStatus.FAILED,
                        error=_generic_error(model),
                        error_detail=f"worker stopped responding; {attempts} attempts",
                        finished_at=now,
                        worker_id="",
                    ):
                        enqueue_on_commit(finished_actor, job_id)
                        counts["failed"] += 1
                elif rows.update(status=JobStatus.QUEUED, heartbeat_at=now, worker_id=""):
                    enqueue_on_commit(actor_name, job_id)
                    counts["requeued"] += 1
        # heartbeat_at of a QUEUED job: when its message was last (re)sent.
        resend_cutoff = now - resend_queued_after
        lost = Q(status=JobStatus.QUEUED) & (
            Q(heartbeat_at__lt=resend_cutoff)
            | Q(heartbeat_at__isnull=True, created_at__lt=resend_cutoff)
        )
        for job_id in model.unscoped.filter(lost).values_list("pk", flat=True):
            with transaction.atomic():
                if model.unscoped.filter(Q(pk=job_id) & lost).update(heartbeat_at=now):
                    enqueue_on_commit(actor_name, job_id)
                    counts["resent"] += 1
    if any(counts.values()):
        logger.info("reaper: %s", counts)
    return counts


def jobs_cancel_for_subject(*, subject) -> int:
    """Cancel the subject's queued and running training and generation jobs (GDPR erasure,
    refunds). A running worker notices at its next heartbeat, stops, and removes what it wrote.
    Returns how many jobs were cancelled."""
    now = timezone.now()
    fields = {
        "status": JobStatus.CANCELLED,
        "finished_at": now,
        "error": "This job was cancelled.",
    }
    cancelled = TrainingJob.unscoped.filter(subject=subject, status__in=ACTIVE).update(**fields)
    cancelled += GenerationJob.unscoped.filter(adapter__subject=subject, status__in=ACTIVE).update(
        **fields
    )
    return cancelled
