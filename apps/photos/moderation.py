"""Moderation of generated images: the support queue (approve / reject) and customer reports.

A generated image the pipeline holds (no face, low likeness) or a customer reports is ``held``:
invisible to the customer until support approves it. Rejecting it makes a replacement from the
same adapter and style, paid for by us, not by the customer:

- **Ledger rule**: one ``CreditLedger`` entry of kind ``replacement`` with ``credits=0`` and
  ``reference="moderation:<image pk>"``. The customer's re-roll balance is unchanged (nothing is
  spent), the ledger still shows that a replacement was made and by whom, and the unique
  (order, kind, reference) constraint makes a second replacement for the same image impossible
  even if the guarded status update were bypassed. (The integer pk, not the public id, so the
  kept ledger holds no id of an erased image.)
- **Once per image**: the status moves held → rejected with a guarded update; only the call
  that wins it creates the replacement. A replacement that is itself rejected gets its own
  replacement (it is a different image).
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import audit_record
from apps.photos.models import GeneratedImage, Photo, Subject

logger = logging.getLogger(__name__)

Moderation = GeneratedImage.Moderation
REJECT_REASONS = (
    ("not_a_likeness", "Does not look like the person"),
    ("artefacts", "Visible artefacts or distortions"),
    ("inappropriate", "Inappropriate content"),
    ("wrong_style", "Does not match the style"),
    ("other", "Other"),
)
REJECT_REASON_LABELS = dict(REJECT_REASONS)


def reference_photo_for(subject: Subject) -> Photo | None:
    """The accepted photo shown beside a held image: the first accepted one with a face crop."""
    return (
        Photo.unscoped.filter(subject=subject, status=Photo.Status.ACCEPTED, purged_at__isnull=True)
        .exclude(face_crop="")
        .order_by("uploaded_at", "pk")
        .first()
    )


def image_approve(*, image: GeneratedImage, actor: User) -> bool:
    """held → approved (now visible to the customer). False if it was not held any more."""
    with transaction.atomic():
        updated = GeneratedImage.unscoped.filter(
            pk=image.pk, moderation_status=Moderation.HELD
        ).update(
            moderation_status=Moderation.APPROVED, moderated_by=actor, moderated_at=timezone.now()
        )
        if updated:
            audit_record(
                actor=actor,
                action="image.approve",
                workspace=image.workspace,
                target_type="generated_image",
                target_ids=[image.public_id],
            )
    return bool(updated)


def image_reject(*, image: GeneratedImage, actor: User, reason: str) -> object | None:
    """held → rejected, and one free replacement generation. Returns the replacement
    ``GenerationJob`` (None when the image was not held, or no replacement can be made because
    its adapter or style is gone)."""
    if reason not in REJECT_REASON_LABELS:
        raise ValidationError("Choose a reason for rejecting the image.")
    with transaction.atomic():
        updated = GeneratedImage.unscoped.filter(
            pk=image.pk, moderation_status=Moderation.HELD
        ).update(
            moderation_status=Moderation.REJECTED,
            moderation_note=REJECT_REASON_LABELS[reason],
            moderated_by=actor,
            moderated_at=timezone.now(),
        )
        if not updated:
            return None
        job = _replacement_create(image=image, actor=actor)
        audit_record(
            actor=actor,
            action="image.reject",
            workspace=image.workspace,
            target_type="generated_image",
            target_ids=[image.public_id],
            details={"reason": reason, "replacement": job is not None},
        )
    return job


def _replacement_create(*, image: GeneratedImage, actor: User):
    from apps.models.models import LoraAdapter
    from apps.models.services import generation_job_create
    from apps.orders.models import CreditLedger, Seat

    adapter = LoraAdapter.unscoped.filter(pk=image.adapter_id).exclude(file="").first()
    if adapter is None or image.style_id is None:
        return None
    seat = None
    if image.generation_job_id and image.generation_job.seat_id:
        seat = image.generation_job.seat
    if seat is None:
        seat = Seat.unscoped.filter(subject_id=image.subject_id).first()
    if seat is not None:
        try:
            with transaction.atomic():
                CreditLedger.unscoped.create(
                    workspace_id=image.workspace_id,
                    order_id=seat.order_id,
                    kind=CreditLedger.Kind.REPLACEMENT,
                    credits=0,
                    reference=f"moderation:{image.pk}",
                    actor_id=actor.pk,
                )
        except IntegrityError:
            # Already replaced once (the guarded update makes this unreachable in practice).
            return None
    return generation_job_create(
        adapter=adapter,
        style=image.style,
        count=1,
        seat=seat,
        kind="replacement",
    )


def image_report(*, image: GeneratedImage, actor: User) -> bool:
    """A customer reports a delivered image: it is hidden (held, reason "reported") until
    support looks at it. False when it was not visible (already held, rejected)."""
    with transaction.atomic():
        updated = GeneratedImage.unscoped.filter(
            pk=image.pk, moderation_status__in=[Moderation.DELIVERED, Moderation.APPROVED]
        ).update(
            moderation_status=Moderation.HELD,
            hold_reason=GeneratedImage.HoldReason.REPORTED,
        )
        if updated:
            audit_record(
                actor=actor,
                action="image.report",
                workspace=image.workspace,
                target_type="generated_image",
                target_ids=[image.public_id],
            )
    return bool(updated)
