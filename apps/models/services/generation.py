"""Generation jobs: create (web side) and run (GPU worker side).

The run keeps one base pipeline per worker process (``get_generator``), swaps in the subject's
adapter, renders the style's prompt with the adapter's trigger token, generates in batches with
seeds seed_base + i, and stores every image (JPEG) and thumbnail (WebP) as a GeneratedImage row
with its seed, prompt and parameters, scored for likeness against the subject's reference
embedding: delivered when a face is found close enough, else held for moderation.
"""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from PIL import Image

from apps.models.models import GenerationJob, JobStatus, LoraAdapter, Style
from apps.models.services.jobs import (
    JobFailed,
    JobLease,
    JobLost,
    JobRetry,
    job_record_failure,
    job_take,
    pipeline_module,
)
from apps.models.services.retention import ADAPTER_EXPIRED
from apps.photos.models import GeneratedImage
from config.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)

MAX_IMAGES_PER_JOB = 100
JPEG_QUALITY = 92
THUMBNAIL_PX = 256
INFERENCE_KEYS = ("steps", "guidance", "width", "height", "batch_size")


def generation_params(*, adapter: LoraAdapter, style: Style, overrides: dict | None = None):
    """Inference parameters: the base model's defaults, then the style's for this family, then
    explicit overrides (only the keys the generator understands)."""
    family = adapter.base_model.family
    merged = {
        **(adapter.base_model.inference_defaults or {}),
        **((style.parameters or {}).get(family) or {}),
        **(overrides or {}),
    }
    return {k: merged[k] for k in INFERENCE_KEYS if merged.get(k) is not None}


def style_prompt_template(style: Style) -> str:
    """The style's template with {backdrop}, {outfit} and {lighting} filled from its fields;
    {subject} is left for the worker (the adapter's trigger token and class word)."""
    template = style.prompt_template
    for key in ("backdrop", "outfit", "lighting"):
        template = template.replace("{" + key + "}", getattr(style, key) or "")
    return template


def generation_job_create(
    *,
    adapter: LoraAdapter,
    style: Style,
    count: int,
    seat=None,
    kind: str = GenerationJob.Kind.INITIAL,
    seed_base: int | None = None,
    params: dict | None = None,
) -> GenerationJob:
    """Queue ``count`` portraits of the adapter's subject in ``style``. Seeds are seed_base + i
    (random seed_base unless given), so every image can be made again exactly."""
    if not 1 <= count <= MAX_IMAGES_PER_JOB:
        raise ValidationError(f"Ask for between 1 and {MAX_IMAGES_PER_JOB} portraits.")
    if not style.active:
        raise ValidationError("This style is no longer offered. Pick another one.")
    if adapter.purged_at is not None:
        raise ValidationError(ADAPTER_EXPIRED)
    if not adapter.file:
        raise ValidationError(
            "This person's trained model has been deleted, so no new portraits can be made."
        )
    if kind not in GenerationJob.Kind.values:
        raise ValueError(f"unknown generation kind {kind!r}")
    if seat is not None and seat.workspace_id != adapter.workspace_id:
        raise ValueError("seat and adapter belong to different workspaces")
    if seed_base is None:
        seed_base = secrets.randbelow(2**31)
    with transaction.atomic():
        # Locked until commit: the retention purge skips it now and sees this job afterwards.
        locked = LoraAdapter.unscoped.select_for_update().filter(pk=adapter.pk)
        if locked.values_list("purged_at", flat=True).first() is not None:
            raise ValidationError(ADAPTER_EXPIRED)
        job = GenerationJob(
            workspace_id=adapter.workspace_id,
            adapter=adapter,
            style=style,
            seat=seat,
            kind=kind,
            count=count,
            seed_base=seed_base,
            # A snapshot: editing the style later does not change a queued job's settings.
            params=generation_params(adapter=adapter, style=style, overrides=params),
            progress_total=count,
        )
        job.full_clean()
        job.save()
        enqueue_on_commit("generate_images", job.pk)
    return job


def generation_work_dir(job: GenerationJob) -> Path:
    return Path(settings.MODEL_ROOT) / "work" / "generate" / str(job.public_id)


def _fetch_adapter(adapter: LoraAdapter, work_dir: Path) -> Path:
    """Copy the adapter from storage to local disk (S3 in production), checking its hash. The
    copy lives in the job's work dir and is removed with it."""
    if adapter.purged_at is not None:
        raise JobFailed(ADAPTER_EXPIRED, f"adapter {adapter.pk} purged (retention)")
    if not adapter.file:
        raise JobFailed(
            "This person's trained model has been deleted, so no new portraits can be made.",
            f"adapter {adapter.pk} has no file",
        )
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / "adapter.safetensors"
    digest = hashlib.sha256()
    try:
        with adapter.file.open("rb") as source, open(path, "wb") as target:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                digest.update(chunk)
                target.write(chunk)
    except FileNotFoundError as exc:
        raise JobFailed(
            "This person's trained model is no longer available, so no new portraits can be made.",
            f"adapter {adapter.pk} file missing",
        ) from exc
    if adapter.sha256 and digest.hexdigest() != adapter.sha256:
        raise JobFailed(
            "We could not load this person's trained model. Our team has been notified.",
            f"adapter {adapter.pk} sha256 mismatch",
        )
    return path


@dataclass
class Score:
    face_found: bool
    distance: float | None
    status: str
    hold_reason: str


def score_likeness(image: Image.Image, reference: list[float] | None) -> Score:
    """Delivered when the image's face is within LIKENESS_MAX_DISTANCE of the reference; held
    (no_face / low_likeness) otherwise. Same detector and embedder as the photo checks."""
    from apps.photos.analysis import embedding_distance, face_embedding_for_image

    held = GeneratedImage.Moderation.HELD
    found = face_embedding_for_image(image)
    if found is None:
        return Score(False, None, held, GeneratedImage.HoldReason.NO_FACE)
    if not reference:
        # Nothing to compare with: a person must look at it.
        return Score(True, None, held, GeneratedImage.HoldReason.LOW_LIKENESS)
    distance = embedding_distance(found[1], reference)
    if distance <= settings.LIKENESS_MAX_DISTANCE:
        return Score(True, distance, GeneratedImage.Moderation.DELIVERED, "")
    return Score(True, distance, held, GeneratedImage.HoldReason.LOW_LIKENESS)


def _encode(image: Image.Image) -> tuple[bytes, bytes]:
    rgb = image.convert("RGB")
    full = io.BytesIO()
    rgb.save(full, "JPEG", quality=JPEG_QUALITY, optimize=True)
    thumb = rgb.copy()
    thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.LANCZOS)
    small = io.BytesIO()
    thumb.save(small, "WEBP", quality=80, method=4)
    return full.getvalue(), small.getvalue()


def _delete_files(names) -> None:
    for name in names:
        if name:
            default_storage.delete(name)


def _remove_job_images(job_id: int, extra_names: list[str]) -> int:
    """A cancelled job leaves nothing behind: its images' files, then their rows."""
    rows = list(GeneratedImage.unscoped.filter(generation_job_id=job_id))
    _delete_files(extra_names)
    for row in rows:
        _delete_files([row.image.name, row.thumbnail.name])
    GeneratedImage.unscoped.filter(pk__in=[r.pk for r in rows]).delete()
    return len(rows)


def generation_job_run(*, job_id: int, worker_id: str) -> str:
    """Run (or resume) one generation job on this worker; seeds that already have an image are
    skipped, so a resumed job finishes what its predecessor started. Idempotent like
    training_job_run. Returns "skipped", "succeeded", "cancelled" or "failed"."""
    now = timezone.now()
    if not job_take(GenerationJob, job_id=job_id, worker_id=worker_id, now=now):
        logger.info("generation job %s: nothing to do", job_id)
        return "skipped"
    job = GenerationJob.unscoped.select_related(
        "adapter", "adapter__base_model", "adapter__subject", "style"
    ).get(pk=job_id)
    lease = JobLease(GenerationJob, job_id, worker_id)
    work_dir = generation_work_dir(job)
    written: list[str] = []  # storage names this run wrote, for clean-up on cancel
    try:
        _generate(job, lease, work_dir, written)
        with transaction.atomic():
            finished = lease.owned_rows().update(
                status=JobStatus.SUCCEEDED,
                finished_at=timezone.now(),
                heartbeat_at=timezone.now(),
                progress_step=F("progress_total"),
                error="",
            )
            if not finished:
                raise JobLost()
            enqueue_on_commit("generation_finished", job_id)
    except JobLost:
        _after_loss(job_id, written)
        return "cancelled"
    except BaseException as exc:
        outcome = job_record_failure(GenerationJob, job_id=job_id, worker_id=worker_id, exc=exc)
        if outcome == "lost":
            _after_loss(job_id, written)
        if outcome == "retry":
            raise JobRetry(f"generation job {job_id}: attempt failed") from exc
        if not isinstance(exc, Exception):
            raise
        return "failed" if outcome == "failed" else "cancelled"
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    logger.info("generation job %s: %s images", job_id, job.count)
    return "succeeded"


def _after_loss(job_id: int, written: list[str]) -> None:
    """Lost ownership: cancelled or erased → remove what was written; taken over by another
    worker after a stall → leave its rows (the new owner continues from them)."""
    job = GenerationJob.unscoped.filter(pk=job_id).only("status").first()
    if job is None or job.status == JobStatus.CANCELLED:
        removed = _remove_job_images(job_id, written)
        logger.info("generation job %s: cancelled, removed %s images", job_id, removed)


def _generate(job: GenerationJob, lease: JobLease, work_dir: Path, written: list[str]) -> None:
    adapter, style = job.adapter, job.style
    base, subject = adapter.base_model, adapter.subject
    generate = pipeline_module("generate")
    adapter_path = _fetch_adapter(adapter, work_dir)
    params = {**generation_params(adapter=adapter, style=style), **(job.params or {})}
    prompt = generate.render_prompt(
        style_prompt_template(style),
        trigger_token=adapter.trigger_token,
        class_word=adapter.class_word,
    )
    negative = style.negative_prompt
    seeds = [job.seed_base + i for i in range(job.count)]
    done = set(
        GeneratedImage.unscoped.filter(generation_job_id=job.pk, seed__in=seeds).values_list(
            "seed", flat=True
        )
    )
    todo = [seed for seed in seeds if seed not in done]
    if not lease.beat(force=True, progress_step=len(done), progress_total=job.count):
        raise JobLost()
    generator = generate.get_generator(Path(base.path), base.family)
    if generator.base_model_revision != base.revision:
        # An adapter only fits the exact base weights it was trained on.
        raise JobFailed(
            "We could not make your portraits. Our team has been notified.",
            f"base model {base.name} on disk is {generator.base_model_revision}, "
            f"registered {base.revision}",
        )
    batch_size = max(1, int(params.get("batch_size", 4)))
    purge_after = timezone.now() + timedelta(days=settings.GENERATED_RETENTION_DAYS)
    for start in range(0, len(todo), batch_size):
        if not lease.still_owned():
            raise JobLost()
        batch = todo[start : start + batch_size]
        samples = generator.generate(
            adapter=(adapter_path, f"adapter-{adapter.public_id}-{adapter.sha256[:16]}"),
            prompt=prompt,
            negative_prompt=negative,
            seeds=batch,
            steps=int(params.get("steps", 30)),
            guidance=float(params.get("guidance", generate.DEFAULT_GUIDANCE[base.family])),
            width=params.get("width"),
            height=params.get("height"),
            batch_size=batch_size,
        )
        for sample in samples:
            _store_sample(job, lease, subject, sample, purge_after, written)


def _store_sample(job, lease: JobLease, subject, sample, purge_after, written: list[str]) -> None:
    score = score_likeness(sample.image, subject.reference_embedding)
    full, thumb = _encode(sample.image)
    row = GeneratedImage(
        workspace_id=job.workspace_id,
        subject=subject,
        generation_job=job,
        style=job.style,
        adapter=job.adapter,
        width=sample.image.width,
        height=sample.image.height,
        seed=sample.seed,
        prompt=sample.prompt,
        negative_prompt=sample.negative_prompt,
        parameters={**sample.params, "kind": job.kind},
        face_found=score.face_found,
        likeness_distance=score.distance,
        moderation_status=score.status,
        hold_reason=score.hold_reason,
        purge_after=purge_after,
    )
    row.image.save("image.jpg", ContentFile(full), save=False)
    written.append(row.image.name)
    row.thumbnail.save("thumb.webp", ContentFile(thumb), save=False)
    written.append(row.thumbnail.name)
    try:
        with transaction.atomic():
            # The job row lock orders us against a cancel: once it commits, nothing more is
            # written.
            if not lease.owned_rows().select_for_update().exists():
                raise JobLost()
            row.full_clean()
            row.save()
            GenerationJob.unscoped.filter(pk=job.pk).update(
                progress_step=F("progress_step") + 1, heartbeat_at=timezone.now()
            )
    except BaseException:
        _delete_files([row.image.name, row.thumbnail.name])
        raise
