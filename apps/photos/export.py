"""A person's copy of their data (GDPR Art. 15 access, Art. 20 portability).

``data_export_request`` records the request and enqueues ``build_data_export`` (cpu queue);
``data_export_build`` writes one zip through the storage API (key ws/<uuid>/exports/<uuid>.zip):

    README.txt
    account.json            the account, memberships
    subjects.json           each subject (you): consent, photo and image metadata
    orders.json             orders you bought (amounts, status, dates) and seats you hold
    photos/<subject>/<photo>.<ext>        accepted uploads as stored (re-encoded, no metadata)
    images/<subject>/<image>.<ext>        generated portraits

The zip is downloadable from the privacy page (permission-checked) until ``expires_at``; then
``data_exports_purge_expired`` deletes the file.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import zipfile
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import Membership, User
from apps.accounts.selectors import personal_workspace
from apps.accounts.services import audit_record
from apps.photos.models import DataExport, GeneratedImage, Photo, Subject
from config.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)

README = """This is a copy of the data Likeness holds about you, prepared on {date}.

account.json   your account and the workspaces you belong to
subjects.json  the people (you) we learned a likeness of, with photo and portrait details
orders.json    orders you placed and seats you hold in team orders (amounts in minor units)
photos/        your accepted photos as we store them (re-encoded, metadata removed)
images/        the portraits we generated of you

Your uploaded originals are not included: we never serve them back in their raw form, and we
delete them on a schedule. Questions: {support}
"""


def export_retention() -> timedelta:
    return timedelta(days=getattr(settings, "DATA_EXPORT_RETENTION_DAYS", 7))


def data_export_request(*, user: User, actor: User) -> DataExport:
    """Queue an export of ``user``'s data. One pending export per person at a time."""
    workspace = personal_workspace(user)
    if workspace is None:
        membership = Membership.objects.filter(user=user).order_by("created_at").first()
        workspace = membership.workspace if membership else None
    if workspace is None:
        raise ValidationError("This account has no workspace, so there is nothing to export.")
    try:
        with transaction.atomic():
            export = DataExport.unscoped.create(workspace=workspace, user=user, requested_by=actor)
            audit_record(
                actor=actor,
                action="person.export_request",
                workspace=workspace,
                target_type="data_export",
                target_ids=[export.public_id],
            )
            enqueue_on_commit("build_data_export", export.pk)
    except IntegrityError as exc:
        raise ValidationError(
            "Your download is already being prepared. It will appear on this page shortly."
        ) from exc
    return export


def _subjects_for(user: User):
    return Subject.unscoped.filter(user=user).order_by("created_at", "pk")


def _copy_into(archive: zipfile.ZipFile, name: str, arcname: str) -> bool:
    try:
        with default_storage.open(name, "rb") as source, archive.open(arcname, "w") as target:
            shutil.copyfileobj(source, target, 1024 * 1024)
    except FileNotFoundError:
        return False
    return True


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else "bin"


def _account_json(user: User) -> dict:
    memberships = Membership.objects.filter(user=user).select_related("workspace")
    return {
        "email": user.email,
        "full_name": user.full_name,
        "date_joined": user.date_joined.isoformat(),
        "email_verified_at": user.email_verified_at.isoformat() if user.email_verified_at else None,
        "workspaces": [
            {
                "name": m.workspace.name,
                "kind": m.workspace.kind,
                "role": m.role,
                "joined_at": m.created_at.isoformat(),
            }
            for m in memberships
        ],
    }


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _orders_json(user: User) -> dict:
    from apps.orders.models import Order, Seat

    orders = (
        Order.unscoped.filter(buyer=user).select_related("package").order_by("created_at", "pk")
    )
    seats = (
        Seat.unscoped.filter(Q(member=user) | Q(subject__user=user))
        .select_related("order")
        .order_by("created_at", "pk")
        .distinct()
    )
    return {
        "orders": [
            {
                "order": str(o.public_id),
                "package": o.package.name,
                "seats": o.seats,
                "status": o.status,
                "amount": o.amount,
                "currency": o.currency,
                "refunded_amount": o.refunded_amount,
                "created_at": _iso(o.created_at),
                "paid_at": _iso(o.paid_at),
                "refunded_at": _iso(o.refunded_at),
                "delivered_at": _iso(o.delivered_at),
            }
            for o in orders
        ],
        "seats": [
            {"seat": str(s.public_id), "order": str(s.order.public_id), "status": s.status}
            for s in seats
        ],
    }


def _write_archive(export: DataExport, archive: zipfile.ZipFile) -> dict[str, int]:
    user = export.user
    counts = {"photos": 0, "images": 0, "orders": 0}
    subjects_json = []
    for subject in _subjects_for(user):
        photos = Photo.unscoped.filter(subject=subject).order_by("uploaded_at", "pk")
        images = (
            GeneratedImage.unscoped.filter(subject=subject)
            .select_related("style")
            .order_by("created_at", "pk")
        )
        photo_rows, image_rows = [], []
        for photo in photos:
            arcname = ""
            if photo.image and photo.status == Photo.Status.ACCEPTED:
                arcname = (
                    f"photos/{subject.public_id}/{photo.public_id}.{_extension(photo.image.name)}"
                )
                if _copy_into(archive, photo.image.name, arcname):
                    counts["photos"] += 1
                else:
                    arcname = ""
            photo_rows.append(
                {
                    "photo": str(photo.public_id),
                    "file": arcname or None,
                    "status": photo.status,
                    "reasons": photo.reasons,
                    "uploaded_at": _iso(photo.uploaded_at),
                    "purged_at": _iso(photo.purged_at),
                }
            )
        for image in images:
            arcname = ""
            if image.image:
                arcname = (
                    f"images/{subject.public_id}/{image.public_id}.{_extension(image.image.name)}"
                )
                if _copy_into(archive, image.image.name, arcname):
                    counts["images"] += 1
                else:
                    arcname = ""
            image_rows.append(
                {
                    "image": str(image.public_id),
                    "file": arcname or None,
                    "style": image.style.name if image.style else None,
                    "moderation_status": image.moderation_status,
                    "created_at": _iso(image.created_at),
                    "seed": image.seed,
                    "prompt": image.prompt,
                }
            )
        subjects_json.append(
            {
                "subject": str(subject.public_id),
                "display_name": subject.display_name,
                "consent_given_at": _iso(subject.consent_given_at),
                "consent_version": subject.consent_version,
                "trained_at": _iso(subject.trained_at),
                "has_reference_face_embedding": subject.reference_embedding is not None,
                "photos": photo_rows,
                "images": image_rows,
            }
        )
    orders = _orders_json(user)
    counts["orders"] = len(orders["orders"])
    deflate = {"compress_type": zipfile.ZIP_DEFLATED}
    archive.writestr(
        "README.txt",
        README.format(date=timezone.now().date().isoformat(), support=settings.SUPPORT_EMAIL),
        **deflate,
    )
    archive.writestr("account.json", json.dumps(_account_json(user), indent=2), **deflate)
    archive.writestr("subjects.json", json.dumps(subjects_json, indent=2), **deflate)
    archive.writestr("orders.json", json.dumps(orders, indent=2), **deflate)
    return counts


def data_export_build(*, export_id: int) -> bool:
    """Build and store the zip (run by the ``build_data_export`` actor). Safe to redeliver."""
    claimed = DataExport.unscoped.filter(
        pk=export_id, status__in=[DataExport.Status.QUEUED, DataExport.Status.BUILDING]
    ).update(status=DataExport.Status.BUILDING)
    if not claimed:
        return False
    export = DataExport.unscoped.select_related("user", "workspace").get(pk=export_id)
    if export.file:  # a half-finished earlier attempt
        default_storage.delete(export.file.name)
    try:
        # Images are already compressed: stored, not deflated; spills to disk past 64 MB.
        with tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024) as buffer:
            with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
                counts = _write_archive(export, archive)
            size = buffer.tell()
            buffer.seek(0)
            export.file.save("export.zip", File(buffer), save=False)
    except Exception:
        logger.exception("data export %s failed", export.public_id)
        DataExport.unscoped.filter(pk=export.pk, status=DataExport.Status.BUILDING).update(
            status=DataExport.Status.FAILED,
            error="We could not prepare your download. Please try again in a few minutes.",
            finished_at=timezone.now(),
        )
        return False
    now = timezone.now()
    finished = DataExport.unscoped.filter(pk=export.pk, status=DataExport.Status.BUILDING).update(
        status=DataExport.Status.READY,
        file=export.file.name,
        size_bytes=size,
        counts=counts,
        finished_at=now,
        expires_at=now + export_retention(),
    )
    if not finished:  # erased or removed meanwhile: do not leave the file behind
        default_storage.delete(export.file.name)
        return False
    return True


def data_export_is_downloadable(export: DataExport) -> bool:
    return (
        export.status == DataExport.Status.READY
        and bool(export.file)
        and (export.expires_at is None or export.expires_at > timezone.now())
    )


def data_exports_purge_expired(*, now=None) -> int:
    """Delete the files of expired exports (storage first, then the row). Idempotent."""
    now = now or timezone.now()
    purged = 0
    for export in DataExport.unscoped.filter(expires_at__lte=now).exclude(file=""):
        default_storage.delete(export.file.name)
        purged += DataExport.unscoped.filter(pk=export.pk).delete()[0]
    return purged


def data_exports_for_user(user: User):
    return DataExport.unscoped.filter(user=user).order_by("-created_at")[:5]
