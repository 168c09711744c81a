"""Retention: the generated-image purge, every purge in one call (``purge_expired_all``, run by
``manage.py purge_expired`` and support's "purge now"), and support's view of what of one
workspace will be purged when.

The other purge services belong to their apps (``photos_purge_expired``,
``adapters_purge_expired``, ``zip_exports_purge_expired``, ``data_exports_purge_expired``). All
run over every workspace at once; "purge now" runs them early, so it purges whatever is due in
*all* workspaces, not only the one on screen (nothing is purged before its date either way).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from apps.accounts.models import User, Workspace
from apps.accounts.services import audit_record
from apps.models.models import LoraAdapter
from apps.photos.models import DataExport, GeneratedImage, Photo

logger = logging.getLogger(__name__)


def generated_images_purge_expired(
    *, now: datetime | None = None, batch_size: int = 100
) -> dict[str, int]:
    """Delete every generated image past its purge_after (GENERATED_RETENTION_DAYS after it was
    made; favourites too — the gallery tells the customer the date): image and thumbnail files
    first, then the row.

    Same rules as ``photos_purge_expired``: batches locked with SKIP LOCKED (two runs at once
    take disjoint rows), an image whose storage delete fails keeps its row (still pointing at
    its files) for the next run, a deleted row is never selected again. Logs and returns counts.
    """
    now = now or timezone.now()
    counts = {"images": 0, "files": 0, "failed": 0}
    failed: list[int] = []
    while True:
        with transaction.atomic():
            batch = list(
                GeneratedImage.unscoped.select_for_update(skip_locked=True, of=("self",))
                .filter(purge_after__lte=now)
                .exclude(pk__in=failed)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                break
            gone: list[int] = []
            for image in batch:
                names = [f.name for f in (image.image, image.thumbnail) if f.name]
                try:
                    for name in names:
                        image.image.storage.delete(name)  # a missing object is not an error
                except Exception:
                    logger.exception("image purge: storage delete failed for image %s", image.pk)
                    failed.append(image.pk)
                    counts["failed"] += 1
                    continue
                gone.append(image.pk)
                counts["files"] += len(names)
            if gone:
                _, deleted = GeneratedImage.unscoped.filter(pk__in=gone).delete()
                counts["images"] += deleted.get(GeneratedImage._meta.label, 0)
    if counts["images"] or counts["failed"]:
        audit_record(
            actor=None, action="generated_images.purge", target_type="image", details=counts
        )
    logger.info("image purge: %(images)d images, %(files)d files, %(failed)d failed", counts)
    return counts


def purge_expired_all(*, now: datetime | None = None) -> dict[str, dict[str, int]]:
    """Run every retention purge once; counts per kind. The daily actors run the same purges
    one by one."""
    from apps.models.services import adapters_purge_expired
    from apps.orders.services import zip_exports_purge_expired
    from apps.photos.export import data_exports_purge_expired
    from apps.photos.services import photos_purge_expired

    return {
        "photos": photos_purge_expired(now=now),
        "adapters": adapters_purge_expired(now=now),
        "generated_images": generated_images_purge_expired(now=now),
        "zip_exports": zip_exports_purge_expired(now=now),
        "data_exports": {"exports": data_exports_purge_expired(now=now)},
    }


@dataclass(frozen=True)
class RetentionRow:
    kind: str
    stored: int
    due_now: int
    no_date: int
    next_purge: datetime | None
    last_purge: datetime | None
    purge_service: str  # the service that deletes them ("" if none exists yet)


def _row(kind: str, queryset, date_field: str, now: datetime, service: str) -> RetentionRow:
    stats = queryset.aggregate(
        stored=Count("pk"),
        due_now=Count("pk", filter=Q(**{f"{date_field}__lte": now})),
        no_date=Count("pk", filter=Q(**{f"{date_field}__isnull": True})),
        next_purge=Min(date_field, filter=Q(**{f"{date_field}__gt": now})),
        last_purge=Max(date_field),
    )
    return RetentionRow(kind=kind, purge_service=service, **stats)


def retention_schedule(*, workspace: Workspace, now: datetime) -> list[RetentionRow]:
    """Per kind of stored file: how many, how many are due, when the next and last go."""
    return [
        _row(
            "Uploaded photos",
            Photo.unscoped.filter(workspace=workspace, purged_at__isnull=True),
            "purge_after",
            now,
            "photos_purge_expired",
        ),
        _row(
            "Trained adapters",
            LoraAdapter.unscoped.filter(workspace=workspace, purged_at__isnull=True).exclude(
                file=""
            ),
            "purge_after",
            now,
            "adapters_purge_expired",
        ),
        _row(
            "Generated images",
            GeneratedImage.unscoped.filter(workspace=workspace),
            "purge_after",
            now,
            "generated_images_purge_expired",
        ),
        _row(
            "Data exports",
            DataExport.unscoped.filter(workspace=workspace).exclude(file=""),
            "expires_at",
            now,
            "data_exports_purge_expired",
        ),
    ]


def upcoming_photo_purges(*, workspace: Workspace, limit: int = 50):
    return (
        Photo.unscoped.filter(workspace=workspace, purged_at__isnull=True)
        .select_related("subject")
        .order_by("purge_after", "pk")[:limit]
    )


def purge_now(*, actor: User, workspace: Workspace | None = None) -> dict[str, dict[str, int]]:
    """Run every purge now (globally: see the module docstring)."""
    counts = purge_expired_all()
    audit_record(
        actor=actor,
        action="retention.purge_now",
        workspace=workspace,
        target_type="workspace" if workspace else "",
        target_ids=[workspace.public_id] if workspace else [],
        details=counts,
    )
    return counts
