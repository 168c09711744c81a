"""Reads for subjects, photos and generated images.

Who sees what inside a workspace: owners and admins see every subject; a member sees only the
subjects that are themselves (``Subject.user``) — a colleague's photos are not theirs to view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Min, Q, QuerySet

from apps.accounts.models import Membership, Workspace
from apps.photos.models import GeneratedImage, Photo, Subject


def retention_days(workspace: Workspace) -> tuple[int, int]:
    """(days after upload, days after training) for the workspace's photos: its own overrides,
    else the site defaults."""
    after_upload = workspace.photo_retention_days
    after_training = workspace.photo_retention_after_training_days
    return (
        settings.PHOTO_RETENTION_DAYS if after_upload is None else after_upload,
        settings.PHOTO_RETENTION_AFTER_TRAINING_DAYS if after_training is None else after_training,
    )


def subjects_visible_to(*, workspace: Workspace, membership: Membership) -> QuerySet[Subject]:
    subjects = Subject.objects.for_workspace(workspace)
    if not membership.can_manage:
        subjects = subjects.filter(user_id=membership.user_id)
    return subjects


def subjects_with_counts(*, workspace: Workspace, membership: Membership) -> QuerySet[Subject]:
    """The subjects list page: each subject with accepted/pending photo counts."""
    live = Q(photos__purged_at__isnull=True)
    return (
        subjects_visible_to(workspace=workspace, membership=membership)
        .annotate(
            accepted_count=Count("photos", filter=live & Q(photos__status=Photo.Status.ACCEPTED)),
            pending_count=Count("photos", filter=live & Q(photos__status=Photo.Status.PENDING)),
        )
        .order_by("created_at", "pk")
    )


def subject_for_member(
    *, workspace: Workspace, membership: Membership, public_id
) -> Subject | None:
    return (
        subjects_visible_to(workspace=workspace, membership=membership)
        .filter(public_id=public_id)
        .first()
    )


@dataclass(frozen=True)
class PhotoCounts:
    accepted: int
    pending: int
    rejected: int
    minimum: int
    maximum: int

    @property
    def needed(self) -> int:
        """How many more accepted photos the subject needs to be ready."""
        return max(0, self.minimum - self.accepted)

    @property
    def slots_left(self) -> int:
        return max(0, self.maximum - self.accepted - self.pending)


def subject_photo_counts(subject: Subject) -> PhotoCounts:
    """Counts of the subject's photos that still exist (purged ones are gone)."""
    rows = dict(
        Photo.unscoped.filter(subject_id=subject.pk, purged_at__isnull=True)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return PhotoCounts(
        accepted=rows.get(Photo.Status.ACCEPTED, 0),
        pending=rows.get(Photo.Status.PENDING, 0),
        rejected=rows.get(Photo.Status.REJECTED, 0),
        minimum=settings.PHOTO_MIN_PER_SUBJECT,
        maximum=settings.PHOTO_MAX_PER_SUBJECT,
    )


def subject_is_ready(subject: Subject) -> bool:
    """Ready to train: at least PHOTO_MIN_PER_SUBJECT accepted and none still being checked
    (so training starts from a settled set)."""
    counts = subject_photo_counts(subject)
    return counts.accepted >= counts.minimum and counts.pending == 0


def photos_for_subject(subject: Subject) -> QuerySet[Photo]:
    """The upload page's list: photos that still exist, newest first."""
    return Photo.unscoped.filter(subject_id=subject.pk, purged_at__isnull=True).order_by(
        "-uploaded_at", "-pk"
    )


def subject_training_photos(subject: Subject) -> QuerySet[Photo]:
    """Accepted photos with their stored re-encoded image, oldest first (for training)."""
    return (
        Photo.unscoped.filter(
            subject_id=subject.pk, status=Photo.Status.ACCEPTED, purged_at__isnull=True
        )
        .exclude(image="")
        .order_by("uploaded_at", "pk")
    )


def subject_next_purge(subject: Subject) -> datetime | None:
    """When the first of the subject's stored photos will be deleted."""
    return Photo.unscoped.filter(subject_id=subject.pk, purged_at__isnull=True).aggregate(
        first=Min("purge_after")
    )["first"]


def photo_for_member(*, workspace: Workspace, membership: Membership, public_id) -> Photo | None:
    photos = Photo.objects.for_workspace(workspace).select_related("subject", "workspace")
    if not membership.can_manage:
        photos = photos.filter(subject__user_id=membership.user_id)
    return photos.filter(public_id=public_id).first()


def generated_image_for_member(
    *, workspace: Workspace, membership: Membership, public_id
) -> GeneratedImage | None:
    """A generated image the member may see; held or rejected images only for staff."""
    images = GeneratedImage.objects.for_workspace(workspace).select_related("subject")
    if not membership.can_manage:
        images = images.filter(subject__user_id=membership.user_id)
    image = images.filter(public_id=public_id).first()
    if image is None:
        return None
    if not image.visible_to_customer and not membership.user.is_staff:
        return None
    return image
