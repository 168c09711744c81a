"""Re-rolls, favourites and "download all" zips of an order's portraits."""

from __future__ import annotations

import logging
import os
import tempfile
import zipfile
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts.models import User
from apps.accounts.services import audit_record
from apps.orders import selectors
from apps.orders.models import CreditLedger, Order, Seat, ZipExport
from apps.orders.services.payments import lock_order
from config.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)


@transaction.atomic
def order_reroll(*, order: Order, seat: Seat, style, actor: User):
    """Spend one credit on ``ORDER_REROLL_IMAGES`` more portraits of a seat in one style."""
    from apps.models import services as ml_services
    from apps.models.models import LoraAdapter

    order = lock_order(order)
    if order.status != Order.Status.DELIVERED:
        raise ValidationError("More portraits can be made once your order is delivered.")
    if seat.order_id != order.pk or not order.styles.filter(pk=style.pk).exists():
        raise ValidationError("Choose one of the styles in your order.")
    if selectors.credit_balance(order=order) <= 0:
        raise ValidationError(
            "You have no re-roll credits left on this order. Contact support if a portrait "
            "needs replacing."
        )
    adapter = (
        LoraAdapter.unscoped.filter(subject_id=seat.subject_id).order_by("-created_at").first()
    )
    if adapter is None:
        raise ValidationError("This person's portraits are not ready yet.")
    job = ml_services.generation_job_create(
        adapter=adapter,
        style=style,
        count=settings.ORDER_REROLL_IMAGES,
        seat=seat,
        kind="reroll",
    )
    CreditLedger.unscoped.create(
        workspace_id=order.workspace_id,
        order=order,
        kind=CreditLedger.Kind.REROLL,
        credits=-1,
        reference=str(job.public_id),
        actor_id=actor.pk,
    )
    audit_record(
        actor=actor,
        action="order.reroll",
        workspace=order.workspace,
        target_type="generation_job",
        target_ids=[job.public_id],
        details={"order": str(order.public_id)},
    )
    return job


def portrait_favourite_set(*, image, favourite: bool) -> None:
    """Mark or unmark a portrait as a favourite (idempotent: the state is sent, not toggled)."""
    type(image).unscoped.filter(pk=image.pk).update(is_favourite=favourite)
    image.is_favourite = favourite


# --- "Download all" exports -------------------------------------------------------------------


@transaction.atomic
def zip_export_request(*, order: Order, actor: User) -> ZipExport:
    """Start building a zip of the order's visible portraits (one at a time per order)."""
    if not selectors.downloads_allowed(order=order):
        raise ValidationError(selectors.downloads_blocked_reason(order=order))
    order = lock_order(order)
    # A build older than an hour died with its worker; a new request starts afresh.
    pending = ZipExport.unscoped.filter(
        order=order,
        status__in=[ZipExport.Status.QUEUED, ZipExport.Status.RUNNING],
        created_at__gte=timezone.now() - timedelta(hours=1),
    ).first()
    if pending is not None:
        return pending
    export = ZipExport.unscoped.create(
        workspace_id=order.workspace_id, order=order, requested_by=actor
    )
    audit_record(
        actor=actor,
        action="order.export_requested",
        workspace=order.workspace,
        target_type="zip_export",
        target_ids=[export.public_id],
    )
    enqueue_on_commit("build_order_export", export.pk)
    return export


def zip_export_build(*, export_id: int) -> bool:
    """Write the zip (cpu actor): progress on the row after each image, file through the storage
    API under an exports key. False when another worker already took it."""
    if not ZipExport.unscoped.filter(pk=export_id, status=ZipExport.Status.QUEUED).update(
        status=ZipExport.Status.RUNNING
    ):
        return False
    export = ZipExport.unscoped.select_related("order", "workspace").get(pk=export_id)
    images = list(selectors.gallery_images(order=export.order))
    ZipExport.unscoped.filter(pk=export_id).update(progress_total=len(images))
    handle, path = tempfile.mkstemp(suffix=".zip")
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as zf:
            for number, image in enumerate(images, start=1):
                with image.image.open("rb") as source:
                    zf.writestr(_zip_name(image, number), source.read())
                ZipExport.unscoped.filter(pk=export_id).update(progress_done=F("progress_done") + 1)
        with open(path, "rb") as built:
            export.file.save("portraits.zip", File(built), save=False)
        finished = ZipExport.unscoped.filter(pk=export_id, status=ZipExport.Status.RUNNING).update(
            status=ZipExport.Status.READY,
            file=export.file.name,
            size_bytes=os.path.getsize(path),
            finished_at=timezone.now(),
        )
        if not finished:
            # The row went away while we worked (erasure, refund clean-up): keep nothing.
            export.file.storage.delete(export.file.name)
            return False
    except Exception:
        # Not re-raised: a retry could not take the row again; the customer asks anew.
        logger.exception("zip export %s failed", export_id)
        ZipExport.unscoped.filter(pk=export_id).update(
            status=ZipExport.Status.FAILED,
            error="We could not prepare the download. Please try again.",
            finished_at=timezone.now(),
        )
        return False
    finally:
        os.unlink(path)
    return True


def _zip_name(image, number: int) -> str:
    """Names from our own data only (style, seat), never a stored key or uploaded name."""
    style = slugify(image.style.name) if image.style_id else "portrait"
    person = slugify(image.subject.display_name) or "person"
    ext = image.image.name.rsplit(".", 1)[-1] if "." in image.image.name else "png"
    return f"{person}/{style}-{number:03d}.{ext}"


def zip_exports_purge_expired(*, now=None) -> dict[str, int]:
    """Delete "download all" zips older than ZIP_EXPORT_RETENTION_DAYS: the file first, then
    the row (the customer can ask for a fresh one). Idempotent; logs counts only."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ZIP_EXPORT_RETENTION_DAYS)
    files = rows = 0
    expired = ZipExport.unscoped.filter(created_at__lt=cutoff).exclude(
        status__in=[ZipExport.Status.QUEUED, ZipExport.Status.RUNNING]
    )
    for export in expired.iterator():
        if export.file:
            export.file.storage.delete(export.file.name)
            files += 1
        rows += ZipExport.unscoped.filter(pk=export.pk).delete()[0]
    logger.info("zip export purge: %d files, %d rows", files, rows)
    return {"files": files, "rows": rows}
