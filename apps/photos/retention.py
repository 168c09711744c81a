"""Support's retention view: what of one workspace will be purged when, and "purge now".

The purge services themselves belong to their apps (``photos_purge_expired`` for photos) and
run over every workspace at once; "purge now" runs them early, so it purges whatever is due in
*all* workspaces, not only the one on screen (nothing is purged before its date either way).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Min, Q

from apps.accounts.models import User, Workspace
from apps.accounts.services import audit_record
from apps.models.models import LoraAdapter
from apps.photos.models import DataExport, GeneratedImage, Photo


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
            LoraAdapter.unscoped.filter(workspace=workspace).exclude(file=""),
            "purge_after",
            now,
            "",
        ),
        _row(
            "Generated images",
            GeneratedImage.unscoped.filter(workspace=workspace).exclude(image=""),
            "purge_after",
            now,
            "",
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


def purge_now(*, actor: User, workspace: Workspace | None = None) -> dict[str, int]:
    """Run the purges that exist now (globally: see the module docstring)."""
    from apps.photos.export import data_exports_purge_expired
    from apps.photos.services import photos_purge_expired

    photo_counts = photos_purge_expired()
    counts = {
        "photos": photo_counts.get("photos", 0),
        "photo_files": photo_counts.get("files", 0),
        "photo_failures": photo_counts.get("failed", 0),
        "exports": data_exports_purge_expired(),
    }
    audit_record(
        actor=actor,
        action="retention.purge_now",
        workspace=workspace,
        target_type="workspace" if workspace else "",
        target_ids=[workspace.public_id] if workspace else [],
        details=counts,
    )
    return counts
