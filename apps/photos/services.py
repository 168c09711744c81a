"""Writes for subjects and photos: upload, checks, deletion, retention and purge.

Storage decisions (see also DESIGN.md, "Data lifecycle"):
- The upload's bytes are stored privately in ``Photo.original`` (key
  ``ws/<ws>/originals/<uuid>.bin``, never the uploaded name or extension) only so the
  ``check_photo`` worker can read them on another machine. They are never served. Once the
  verdict is committed the original is deleted and the field cleared; what remains is the
  re-encoded, metadata-free JPEG in ``Photo.image`` (also kept for rejected photos that could be
  decoded, so the customer sees *which* photo the advice is about) and, for accepted photos, the
  square face crop in ``Photo.face_crop``.
- Storage objects are deleted before rows are changed (a failed delete leaves the row pointing
  at the object, so a later delete or purge finds it again; never an unreferenced object).

``apps.photos.analysis`` (dlib) is imported lazily: the web process never loads it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User, Workspace
from apps.accounts.services import audit_record
from apps.photos import checks
from apps.photos.models import Photo, Subject
from apps.photos.selectors import retention_days
from config.tasks import enqueue_on_commit

if TYPE_CHECKING:
    from apps.photos.analysis import PhotoAnalysis

logger = logging.getLogger(__name__)

_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1


def photo_check_thresholds() -> dict[str, Any]:
    """The check thresholds in force: the upload limit from settings, then PHOTO_CHECKS."""
    return checks.resolve_thresholds(
        {"max_file_bytes": settings.PHOTO_MAX_UPLOAD_BYTES, **settings.PHOTO_CHECKS}
    )


def phash_to_db(value: int | None) -> int | None:
    """Unsigned 64-bit perceptual hash → signed int64 for the BigIntegerField."""
    if value is None:
        return None
    return value - _U64 if value > _I64_MAX else value


def phash_from_db(value: int | None) -> int | None:
    """Signed int64 from the database → the unsigned hash the checks compare bit by bit."""
    if value is None:
        return None
    return value + _U64 if value < 0 else value


# --- Subjects ---------------------------------------------------------------------------------


def subject_create(
    *,
    workspace: Workspace,
    actor: User,
    display_name: str,
    consent_given: bool = False,
    user: User | None = None,
    consent_pending: bool = False,
) -> Subject:
    """A new person to learn, with the uploader's consent recorded (who, when, which wording).

    With ``consent_pending`` no consent is recorded (and none is asked for): the person, or
    whoever uploads their photos, confirms it on the upload page before the first upload
    (``subject_consent_record``). Team seats are made this way: the buyer is not the person.
    """
    display_name = display_name.strip()
    errors: dict[str, str] = {}
    if not display_name:
        errors["display_name"] = "Give this person a name, so you can tell the sets apart."
    if not consent_given and not consent_pending:
        errors["consent"] = (
            "We can only learn a face with that person's permission. Tick the box to confirm."
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        subject = Subject(workspace=workspace, display_name=display_name[:120], user=user)
        if not consent_pending:
            subject.consent_given_at = timezone.now()
            subject.consent_given_by = actor
            subject.consent_version = settings.PHOTO_CONSENT_VERSION
        subject.full_clean()
        subject.save()
        audit_record(
            actor=actor,
            action="subject.create",
            workspace=workspace,
            target_type="subject",
            target_ids=[subject.public_id],
            details={
                "consent_version": subject.consent_version,
                "consent_pending": consent_pending,
            },
        )
    return subject


def subject_consent_record(*, subject: Subject, actor: User) -> Subject:
    """Record that ``actor`` (the person, or someone with their permission) consents to their
    photos being used. Guarded: only a subject whose consent is still pending changes, so a
    consent already given (by whom, which wording) is never overwritten."""
    now = timezone.now()
    with transaction.atomic():
        recorded = Subject.unscoped.filter(pk=subject.pk, consent_given_at__isnull=True).update(
            consent_given_at=now,
            consent_given_by=actor,
            consent_version=settings.PHOTO_CONSENT_VERSION,
        )
        if recorded:
            audit_record(
                actor=actor,
                action="subject.consent",
                workspace=subject.workspace,
                target_type="subject",
                target_ids=[subject.public_id],
                details={"consent_version": settings.PHOTO_CONSENT_VERSION},
            )
    subject.refresh_from_db(fields=["consent_given_at", "consent_given_by", "consent_version"])
    return subject


CONSENT_PENDING_MESSAGE = (
    "Confirm that these photos are of you, or that you have the person's permission, "
    "before uploading."
)


def _refresh_reference_embedding(subject: Subject) -> None:
    """Reference = robust mean of the accepted, unpurged photos' embeddings. Called with the
    subject row locked. Once photos have been purged on schedule and none is left, the last
    reference is kept: generated images are still scored against it."""
    embeddings = list(
        Photo.unscoped.filter(
            subject_id=subject.pk,
            status=Photo.Status.ACCEPTED,
            purged_at__isnull=True,
            embedding__isnull=False,
        )
        .order_by("pk")
        .values_list("embedding", flat=True)
    )
    if embeddings:
        reference: list[float] | None = checks.robust_mean_embedding(embeddings)
    elif Photo.unscoped.filter(subject_id=subject.pk, purged_at__isnull=False).exists():
        return
    else:
        reference = None
    Subject.unscoped.filter(pk=subject.pk).update(reference_embedding=reference)
    subject.reference_embedding = reference


# --- Retention --------------------------------------------------------------------------------


def photo_purge_after(photo: Photo) -> datetime:
    """When the photo's files are purged: N days after upload or M days after the subject's model
    was trained, whichever comes first (N, M from the workspace, else from settings)."""
    after_upload, after_training = retention_days(photo.workspace)
    candidates = [photo.uploaded_at + timedelta(days=after_upload)]
    trained_at = photo.subject.trained_at
    if trained_at is not None:
        candidates.append(trained_at + timedelta(days=after_training))
    return min(candidates)


def subject_mark_trained(*, subject: Subject, when: datetime) -> int:
    """Record that the subject's model finished training and bring its photos' purge dates
    forward accordingly. Returns how many photos got a new date. Safe to call again."""
    with transaction.atomic():
        subject = (
            Subject.unscoped.select_for_update(of=("self",))
            .select_related("workspace")
            .get(pk=subject.pk)
        )
        Subject.unscoped.filter(pk=subject.pk).update(trained_at=when)
        subject.trained_at = when
        changed = 0
        photos = Photo.unscoped.filter(subject_id=subject.pk, purged_at__isnull=True).order_by("pk")
        for photo in photos:
            photo.subject = subject
            photo.workspace = subject.workspace
            purge_after = photo_purge_after(photo)
            if purge_after != photo.purge_after:
                changed += Photo.unscoped.filter(pk=photo.pk, purged_at__isnull=True).update(
                    purge_after=purge_after
                )
    return changed


def _delete_files(names: Iterable[str]) -> int:
    from django.core.files.storage import default_storage

    deleted = 0
    for name in names:
        if name:
            default_storage.delete(name)  # idempotent: a missing object is not an error
            deleted += 1
    return deleted


def photos_purge_expired(*, now: datetime | None = None, batch_size: int = 100) -> dict[str, int]:
    """Delete the files of every photo past its purge_after, then mark the rows purged.

    Safe to run twice at once: each batch is locked with SKIP LOCKED, so two runs take disjoint
    rows, and a purged row (purged_at set) is never selected again. A photo whose storage delete
    fails keeps its row untouched (it still points at its files) and is retried on the next run.
    Logs and returns counts only.
    """
    now = now or timezone.now()
    counts = {"photos": 0, "files": 0, "failed": 0}
    failed: list[int] = []
    while True:
        with transaction.atomic():
            batch = list(
                Photo.unscoped.select_for_update(skip_locked=True)
                .filter(purge_after__lte=now, purged_at__isnull=True)
                .exclude(pk__in=failed)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                break
            for photo in batch:
                names = [photo.image.name, photo.face_crop.name, photo.original.name]
                try:
                    files = _delete_files(names)
                except Exception:
                    logger.exception("photo purge: storage delete failed for photo %s", photo.pk)
                    failed.append(photo.pk)
                    counts["failed"] += 1
                    continue
                marked = Photo.unscoped.filter(pk=photo.pk, purged_at__isnull=True).update(
                    purged_at=now,
                    image="",
                    face_crop="",
                    original="",
                    embedding=None,
                    face_box=None,
                )
                counts["photos"] += marked
                counts["files"] += files
    if counts["photos"] or counts["failed"]:
        audit_record(
            actor=None,
            action="photos.purge",
            target_type="photo",
            details=counts,
        )
    logger.info("photo purge: %(photos)d photos, %(files)d files, %(failed)d failed", counts)
    return counts


# --- Uploads ----------------------------------------------------------------------------------


def _non_rejected_count(subject: Subject) -> int:
    return (
        Photo.unscoped.filter(subject_id=subject.pk, purged_at__isnull=True)
        .exclude(status=Photo.Status.REJECTED)
        .count()
    )


def photo_upload(*, subject: Subject, upload: File, actor: User) -> Photo:
    """Store one uploaded file privately and queue its check.

    Refused (ValidationError, nothing stored) when the subject's consent is still pending, the
    file is over the size limit, or the subject already has PHOTO_MAX_PER_SUBJECT photos that
    are accepted or being checked. The subject row is locked while checking and counting, so
    concurrent uploads cannot overshoot the limit (nor race a seat moving to someone else).
    """
    name = PurePath((upload.name or "photo").replace("\\", "/")).name[:120]
    size = upload.size or 0
    if size > settings.PHOTO_MAX_UPLOAD_BYTES:
        raise ValidationError(
            checks.advice_for([checks.FILE_TOO_LARGE], thresholds=photo_check_thresholds())[0]
        )
    with transaction.atomic():
        subject = (
            Subject.unscoped.select_for_update(of=("self",))
            .select_related("workspace")
            .get(pk=subject.pk)
        )
        if subject.consent_given_at is None:
            raise ValidationError(CONSENT_PENDING_MESSAGE)
        limit = settings.PHOTO_MAX_PER_SUBJECT
        if _non_rejected_count(subject) >= limit:
            raise ValidationError(
                f"{subject.display_name} already has {limit} photos, the most we use. "
                "Delete one you like less to add another."
            )
        photo = Photo(workspace=subject.workspace, subject=subject, original_name=name)
        photo.purge_after = photo_purge_after(photo)
        # The key comes from originals_upload_to; the uploaded name and extension are not used.
        photo.original.save("original.bin", upload, save=False)
        try:
            photo.full_clean()
            photo.save()
            audit_record(
                actor=actor,
                action="photo.upload",
                workspace=subject.workspace,
                target_type="photo",
                target_ids=[photo.public_id],
                details={"subject": str(subject.public_id)},
            )
        except Exception:
            _delete_files([photo.original.name])
            raise
        enqueue_on_commit("check_photo", photo.pk)
    return photo


@dataclass
class UploadResult:
    photos: list[Photo] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file name, why)


def photos_upload(*, subject: Subject, uploads: Sequence[File], actor: User) -> UploadResult:
    """Upload several files; each is stored or refused on its own. A subject whose consent is
    pending refuses the whole batch (ValidationError, nothing stored)."""
    if not Subject.unscoped.filter(pk=subject.pk, consent_given_at__isnull=False).exists():
        raise ValidationError(CONSENT_PENDING_MESSAGE)
    result = UploadResult()
    for upload in uploads:
        try:
            result.photos.append(photo_upload(subject=subject, upload=upload, actor=actor))
        except ValidationError as exc:
            name = PurePath((upload.name or "photo").replace("\\", "/")).name[:120]
            result.refused.append((name, " ".join(exc.messages)))
    return result


def photo_delete(*, photo: Photo, actor: User) -> None:
    """Delete a photo: its files first, then the row; the subject's reference is recomputed."""
    with transaction.atomic():
        subject = Subject.unscoped.select_for_update().get(pk=photo.subject_id)
        locked = Photo.unscoped.select_for_update().filter(pk=photo.pk).first()
        if locked is None:
            return
        _delete_files([locked.image.name, locked.face_crop.name, locked.original.name])
        was_accepted = locked.status == Photo.Status.ACCEPTED and locked.purged_at is None
        public_id = locked.public_id
        locked.delete()
        if was_accepted:
            _refresh_reference_embedding(subject)
        audit_record(
            actor=actor,
            action="photo.delete",
            workspace=photo.workspace,
            target_type="photo",
            target_ids=[public_id],
            details={"subject": str(subject.public_id)},
        )
        enqueue_on_commit("subject_photos_changed", subject.pk)


# --- Checks (run by the check_photo actor on the cpu queue) ----------------------------------


def _read_original(photo: Photo) -> bytes:
    """The uploaded bytes, or b"" when the object is gone (the check then says "corrupt")."""
    if not photo.original.name:
        return b""
    try:
        with photo.original.open("rb") as handle:
            # One byte over the limit is enough for the analysis to say "too large".
            return handle.read(settings.PHOTO_MAX_UPLOAD_BYTES + 1)
    except FileNotFoundError:
        return b""


def _discard_original(photo_id: int, name: str) -> None:
    """Delete the checked upload's bytes, then forget the key (a failed delete keeps it for the
    purge)."""
    if not name:
        return
    try:
        _delete_files([name])
    except Exception:
        logger.exception("photo check: could not delete the original of photo %s", photo_id)
        return
    Photo.unscoped.filter(pk=photo_id, original=name).update(original="")


def photo_check(*, photo_id: int) -> bool:
    """Check one pending photo and record its verdict. Returns False when there was nothing to
    do (no such photo, already checked, purged): a redelivered message changes nothing.

    The analysis runs outside any transaction; the verdict is decided and written with the
    subject row locked, so two photos of one subject checked at the same time see each other
    (duplicates, same person) and the reference embedding is computed from a stable set.
    Accepted photos are never re-judged.
    """
    from apps.photos.analysis import analyze_photo

    photo = Photo.unscoped.select_related("workspace", "subject").filter(pk=photo_id).first()
    if photo is None:
        return False
    if photo.status != Photo.Status.PENDING or photo.purged_at is not None:
        # Already checked: at most finish deleting an original a crash left behind.
        if photo.purged_at is None and photo.original.name:
            _discard_original(photo.pk, photo.original.name)
        return False

    thresholds = photo_check_thresholds()
    analysis = analyze_photo(_read_original(photo), thresholds=thresholds)
    stored = _store_outputs(photo, analysis)
    try:
        verdict = _record_verdict(photo, analysis, stored, thresholds)
    except Exception:
        _delete_files(stored.values())
        raise
    if verdict is None:  # someone else recorded a verdict first, or the photo was deleted
        _delete_files(stored.values())
        return False
    if verdict != Photo.Status.ACCEPTED and stored.get("face_crop"):
        # Rejected by a set check (duplicate, another person): the row never referenced it.
        _delete_files([stored["face_crop"]])
    _discard_original(photo.pk, photo.original.name)
    return True


def photo_check_failed(*, photo_id: int) -> bool:
    """The check gave up on this photo: every attempt raised (a bug, unreadable storage; bad
    input is an ordinary rejection and never gets here). Reject it as ``check_failed`` so the
    upload page stops waiting and asks for the photo again. Guarded: only a pending, unpurged
    photo changes, so a verdict recorded meanwhile stands. Returns whether it changed."""
    photo = Photo.unscoped.filter(pk=photo_id).only("pk", "subject_id", "original").first()
    if photo is None:
        return False
    with transaction.atomic():
        rejected = Photo.unscoped.filter(
            pk=photo.pk, status=Photo.Status.PENDING, purged_at__isnull=True
        ).update(
            status=Photo.Status.REJECTED,
            reasons=[checks.CHECK_FAILED],
            checked_at=timezone.now(),
        )
        if not rejected:
            return False
        enqueue_on_commit("subject_photos_changed", photo.subject_id)
    logger.warning("photo %s: check failed on every attempt, rejected as check_failed", photo.pk)
    _discard_original(photo.pk, photo.original.name)
    return True


def _store_outputs(photo: Photo, analysis: PhotoAnalysis) -> dict[str, str]:
    """Write the re-encoded image (whenever the file could be decoded) and the face crop (when
    the photo passed its single-photo checks) under fresh keys; returns the storage names."""
    stored: dict[str, str] = {}
    try:
        if analysis.accepted_jpeg:
            photo.image.save("photo.jpg", ContentFile(analysis.accepted_jpeg), save=False)
            stored["image"] = photo.image.name
        if analysis.face_crop_jpeg and not analysis.reasons:
            photo.face_crop.save("face.jpg", ContentFile(analysis.face_crop_jpeg), save=False)
            stored["face_crop"] = photo.face_crop.name
    except Exception:
        _delete_files(stored.values())
        raise
    return stored


def _record_verdict(
    photo: Photo, analysis: PhotoAnalysis, stored: dict[str, str], thresholds: dict[str, Any]
) -> str | None:
    with transaction.atomic():
        subject = (
            Subject.unscoped.select_for_update(of=("self",))
            .select_related("workspace")
            .get(pk=photo.subject_id)
        )
        existing = list(
            Photo.unscoped.filter(
                subject_id=subject.pk, status=Photo.Status.ACCEPTED, purged_at__isnull=True
            )
            .exclude(pk=photo.pk)
            .order_by("pk")
            .values("sha256", "pixel_hash", "phash", "embedding")
        )
        for row in existing:
            row["phash"] = phash_from_db(row["phash"])
            row["pixel_hash"] = row["pixel_hash"] or None
        set_reasons = checks.evaluate_set([analysis], thresholds=thresholds, existing=existing)[0]
        reasons = list(analysis.reasons) + [r for r in set_reasons if r not in analysis.reasons]
        accepted = bool(analysis.accepted_jpeg) and not reasons
        status = Photo.Status.ACCEPTED if accepted else Photo.Status.REJECTED
        photo.subject = subject
        updated = Photo.unscoped.filter(
            pk=photo.pk, status=Photo.Status.PENDING, purged_at__isnull=True
        ).update(
            status=status,
            reasons=reasons,
            metrics=analysis.metrics,
            sha256=analysis.sha256,
            pixel_hash=analysis.pixel_hash or "",
            phash=phash_to_db(analysis.phash),
            width=analysis.width or None,
            height=analysis.height or None,
            face_box=list(analysis.face_box) if analysis.face_box else None,
            embedding=analysis.embedding if accepted else None,
            image=stored.get("image", ""),
            face_crop=stored.get("face_crop", "") if accepted else "",
            checked_at=timezone.now(),
            purge_after=photo_purge_after(photo),
        )
        if not updated:
            return None
        if accepted:
            _refresh_reference_embedding(subject)
        enqueue_on_commit("subject_photos_changed", subject.pk)
    logger.info("photo %s checked: %s %s", photo.pk, status, ",".join(reasons))
    return status


# --- Checking files outside the database (manage.py check_photos) -----------------------------


@dataclass
class FileVerdict:
    status: str  # "accepted" | "rejected"
    reasons: list[str]
    metrics: dict[str, Any]


def photos_check_files(*, files: Sequence[bytes], as_set: bool = False) -> list[FileVerdict]:
    """Run the photo checks on raw files; with ``as_set`` they are judged together as one
    subject's photos (duplicates and same person apply). Touches no database or storage."""
    from apps.photos.analysis import analyze_photo

    thresholds = photo_check_thresholds()
    analyses = [analyze_photo(data, thresholds=thresholds) for data in files]
    set_reasons: list[list[str]] = [[] for _ in analyses]
    if as_set:
        set_reasons = checks.evaluate_set(analyses, thresholds=thresholds)
    verdicts = []
    for analysis, extra in zip(analyses, set_reasons, strict=True):
        reasons = list(analysis.reasons) + [r for r in extra if r not in analysis.reasons]
        accepted = bool(analysis.accepted_jpeg) and not reasons
        verdicts.append(
            FileVerdict(
                status=Photo.Status.ACCEPTED.value if accepted else Photo.Status.REJECTED.value,
                reasons=reasons,
                metrics=dict(analysis.metrics),
            )
        )
    return verdicts


def photos_requeue_stale_checks(
    *, now: datetime | None = None, older_than: timedelta = timedelta(minutes=15)
) -> int:
    """Send the check again for photos still pending long after upload: their message was lost
    (a broker restart) or its worker died. Checking is idempotent — a verdict is written once,
    under the subject lock — so a duplicate only costs CPU. Returns how many were re-sent."""
    cutoff = (now or timezone.now()) - older_than
    stale = list(
        Photo.unscoped.filter(
            status=Photo.Status.PENDING, purged_at__isnull=True, uploaded_at__lt=cutoff
        ).values_list("pk", flat=True)[:1000]
    )
    for photo_id in stale:
        enqueue_on_commit("check_photo", photo_id)
    if stale:
        logger.info("re-sent %d stale photo checks", len(stale))
    return len(stale)
