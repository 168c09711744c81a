"""Training jobs: create (web side) and run (GPU worker side).

The run loads the subject's accepted photos from storage, trains with
``workers.pipeline.train.train_lora`` (checkpoints in a local work dir, so a killed worker's
successor resumes), stores the adapter through the storage API and registers it as the next
``LoraAdapter`` version, all guarded by the worker's ownership of the job.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from PIL import Image

from apps.models.models import BaseModel, JobStatus, LoraAdapter, TrainingJob
from apps.models.services.jobs import (
    ACTIVE,
    TERMINAL,
    JobFailed,
    JobLease,
    JobLost,
    JobRetry,
    job_record_failure,
    job_take,
    pipeline_module,
)
from apps.models.services.registry import base_model_default, base_model_revision
from apps.photos.models import Photo, Subject
from config.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)


def training_work_dir(job: TrainingJob) -> Path:
    """Local-disk checkpoint directory of a job (same path in every worker process)."""
    return Path(settings.MODEL_ROOT) / "work" / "train" / str(job.public_id)


def _accepted_photos(subject: Subject):
    from apps.photos.selectors import subject_training_photos

    return subject_training_photos(subject)


def training_job_create(
    *,
    subject: Subject,
    base_model: BaseModel | None = None,
    seat=None,
    config: dict | None = None,
) -> TrainingJob:
    """Queue training of ``subject``'s adapter on ``base_model`` (default: the registry's).

    ``config`` overrides the base model's train_defaults (TrainConfig field names). Refused
    while the subject has fewer than PHOTO_MIN_PER_SUBJECT accepted photos. A subject has at
    most one queued or running training job (a database constraint): asking again returns it.
    """
    base_model = base_model or base_model_default()
    if seat is not None and seat.workspace_id != subject.workspace_id:
        raise ValueError("seat and subject belong to different workspaces")
    accepted = _accepted_photos(subject).count()
    needed = settings.PHOTO_MIN_PER_SUBJECT
    if accepted < needed:
        raise ValidationError(
            f"We need at least {needed} accepted photos to learn a likeness; "
            f"{accepted} {'is' if accepted == 1 else 'are'} accepted so far. "
            "Add a few more photos and we will start."
        )
    merged = {**(base_model.train_defaults or {}), **(config or {})}
    existing = TrainingJob.unscoped.filter(subject=subject, status__in=ACTIVE).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            job = TrainingJob(
                workspace_id=subject.workspace_id,
                subject=subject,
                base_model=base_model,
                seat=seat,
                config=merged,
                progress_total=int(merged.get("steps") or 0),
            )
            job.full_clean(validate_constraints=False)
            job.save()
            enqueue_on_commit("train_lora", job.pk)
    except IntegrityError:
        # A concurrent request created the subject's active job first.
        existing = TrainingJob.unscoped.filter(subject=subject, status__in=ACTIVE).first()
        if existing is None:
            raise
        return existing
    return job


def _cleanup_if_finished(job_id: int, work_dir: Path | None) -> None:
    """Remove a job's checkpoints once nobody will resume it (finished, cancelled, erased)."""
    job = TrainingJob.unscoped.filter(pk=job_id).only("status", "public_id").first()
    if job is not None and job.status not in TERMINAL:
        return
    if work_dir is None and job is not None:
        work_dir = training_work_dir(job)
    if work_dir is not None and work_dir.exists():
        shutil.rmtree(work_dir, ignore_errors=True)


def _face_box_in_stored_pixels(photo: Photo, size: tuple[int, int]) -> tuple | None:
    """Photo.face_box is in the original's pixels; the stored JPEG may have been reduced."""
    if not photo.face_box or len(photo.face_box) != 4:
        return None
    scale = size[0] / photo.width if photo.width else 1.0
    left, top, right, bottom = (float(v) * scale for v in photo.face_box)
    return (round(left), round(top), round(right), round(bottom))


def _load_training_images(subject: Subject) -> tuple[list[Image.Image], list[tuple | None]]:
    images, boxes = [], []
    for photo in _accepted_photos(subject):
        try:
            with photo.image.open("rb") as handle:
                image = Image.open(handle)
                image.load()
        except FileNotFoundError:
            continue  # purged or deleted since the query: train on the others
        image = image.convert("RGB")
        images.append(image)
        boxes.append(_face_box_in_stored_pixels(photo, image.size))
    if len(images) < settings.PHOTO_MIN_PER_SUBJECT:
        raise JobFailed(
            "The photos for this person are no longer available (they may have been deleted), "
            "so we could not learn the likeness. Upload new photos to try again.",
            f"{len(images)} readable accepted photos",
        )
    return images, boxes


def _train_config(train_module, job: TrainingJob):
    known = {f.name for f in fields(train_module.TrainConfig)}
    return train_module.TrainConfig(**{k: v for k, v in job.config.items() if k in known})


def training_job_run(*, job_id: int, worker_id: str) -> str:
    """Run (or resume) one training job on this worker. Idempotent: a redelivered message for
    a finished job, or one running with a live heartbeat elsewhere, does nothing.

    Returns what happened: "skipped", "succeeded", "cancelled", "failed". Raises JobRetry when
    the attempt failed and the job went back to the queue (the actor's retry runs it again).
    """
    now = timezone.now()
    if not job_take(TrainingJob, job_id=job_id, worker_id=worker_id, now=now):
        _cleanup_if_finished(job_id, None)
        logger.info("training job %s: nothing to do", job_id)
        return "skipped"
    job = TrainingJob.unscoped.select_related("subject", "base_model").get(pk=job_id)
    lease = JobLease(TrainingJob, job_id, worker_id)
    work_dir = training_work_dir(job)
    logger.info("training job %s: attempt %s on %s", job_id, job.attempts, worker_id)
    try:
        train = pipeline_module("train")
        try:
            result, config = _train(train, job, lease, work_dir)
        except train.TrainingCancelled as exc:
            raise JobLost() from exc
        _register_adapter(job, result, config, worker_id)
    except JobLost:
        logger.info("training job %s: stopped, this worker no longer owns it", job_id)
        _cleanup_if_finished(job_id, work_dir)
        return "cancelled"
    except BaseException as exc:
        outcome = job_record_failure(TrainingJob, job_id=job_id, worker_id=worker_id, exc=exc)
        if outcome == "retry":
            raise JobRetry(f"training job {job_id}: attempt failed") from exc
        if outcome == "failed":
            _cleanup_if_finished(job_id, work_dir)
        if not isinstance(exc, Exception):
            raise  # interrupts and exits still end the thread, after the row is settled
        return "failed" if outcome == "failed" else "cancelled"
    shutil.rmtree(work_dir, ignore_errors=True)
    return "succeeded"


def _train(train, job: TrainingJob, lease: JobLease, work_dir: Path):
    base = job.base_model
    model_dir = Path(base.path)
    if not (model_dir / "model_index.json").is_file():
        raise JobFailed(
            "We could not start learning your likeness. Our team has been notified.",
            f"base model {base.name} missing at {model_dir}",
        )
    revision = base_model_revision(model_dir)
    if revision != base.revision:
        raise JobFailed(
            "We could not start learning your likeness. Our team has been notified.",
            f"base model {base.name} changed on disk: {revision} != registered {base.revision}",
        )
    images, boxes = _load_training_images(job.subject)
    config = _train_config(train, job)
    if not lease.beat(force=True, progress_total=config.steps):
        raise JobLost()

    def progress(step: int, total: int, loss: float) -> None:
        lease.beat(progress_step=step, progress_total=total, loss=_finite(loss))

    result = train.train_lora(
        model_dir=model_dir,
        family=base.family,
        images=images,
        face_boxes=boxes,
        config=config,
        work_dir=work_dir,
        progress=progress,
        should_continue=lease.still_owned,
    )
    return result, config


def _finite(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None


def _register_adapter(job: TrainingJob, result, config, worker_id: str) -> LoraAdapter:
    """Store the .safetensors, then in one transaction: next version, adapter row, job
    RUNNING→SUCCEEDED (guarded by this worker), subject marked trained. If the guard fails
    (cancelled or erased meanwhile) the stored file is deleted and nothing is written."""
    now = timezone.now()
    adapter = LoraAdapter(
        workspace_id=job.workspace_id,
        subject=job.subject,
        base_model=job.base_model,
        version=1,
        sha256=result.sha256,
        size_bytes=result.size_bytes,
        rank=config.rank,
        steps=result.steps,
        trigger_token=config.trigger_token,
        class_word=config.class_word,
        training_config=config.to_dict(),
        metrics={
            "final_loss": _finite(result.final_loss),
            "resumed_from_step": result.resumed_from_step,
            "metadata": result.metadata,
            "training_job": str(job.public_id),
        },
        purge_after=now + timedelta(days=settings.ADAPTER_RETENTION_DAYS),
    )
    with open(result.adapter_path, "rb") as handle:
        adapter.file.save("adapter.safetensors", File(handle), save=False)
    stored = adapter.file.name
    try:
        with transaction.atomic():
            # Subject first (version numbers are per subject), then the job: one lock order.
            subject = Subject.unscoped.select_for_update().filter(pk=job.subject_id).first()
            owned = (
                TrainingJob.unscoped.select_for_update()
                .filter(pk=job.pk, status=JobStatus.RUNNING, worker_id=worker_id[:120])
                .exists()
            )
            if subject is None or not owned:
                raise JobLost()
            latest = LoraAdapter.unscoped.filter(
                subject_id=job.subject_id, base_model_id=job.base_model_id
            ).aggregate(latest=Max("version"))["latest"]
            adapter.version = (latest or 0) + 1
            adapter.full_clean()
            adapter.save()
            TrainingJob.unscoped.filter(pk=job.pk).update(
                status=JobStatus.SUCCEEDED,
                adapter=adapter,
                finished_at=now,
                heartbeat_at=now,
                progress_step=result.steps,
                progress_total=result.steps,
                loss=_finite(result.final_loss),
                resumed_from_step=result.resumed_from_step,
                error="",
            )
            from apps.photos.services import subject_mark_trained

            subject_mark_trained(subject=subject, when=now)
            enqueue_on_commit("training_finished", job.pk)
    except BaseException:
        default_storage.delete(stored)
        raise
    logger.info(
        "training job %s: adapter v%s (%s bytes, resumed from step %s)",
        job.pk,
        adapter.version,
        adapter.size_bytes,
        result.resumed_from_step,
    )
    return adapter
