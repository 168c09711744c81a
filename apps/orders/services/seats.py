"""Creating orders and their seats; team styles; giving seats to people."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import Membership, User, Workspace
from apps.accounts.services import audit_record
from apps.orders.models import Order, Package, Seat


def workspace_team_styles_set(*, workspace: Workspace, styles: list, actor: User) -> None:
    """Lock a team's company styles (every seat of every team order uses them)."""
    if workspace.kind != Workspace.Kind.TEAM:
        raise ValidationError("Only team workspaces have company styles.")
    if not styles:
        raise ValidationError({"styles": "Choose at least one style."})
    slugs = [style.slug for style in styles]
    Workspace.objects.filter(pk=workspace.pk).update(team_style_slugs=slugs)
    workspace.team_style_slugs = slugs
    audit_record(
        actor=actor,
        action="workspace.team_styles_set",
        workspace=workspace,
        target_type="workspace",
        target_ids=[workspace.public_id],
        details={"styles": len(slugs)},
    )


@transaction.atomic
def order_create(
    *,
    workspace: Workspace,
    buyer: User,
    package: Package,
    styles: list,
    consent_given: bool,
    seats: int = 1,
) -> Order:
    """A draft order with one seat (and one subject) per person. Team packages use the team's
    locked styles; choosing styles for the first team order locks them.

    A personal order's subject is the buyer, so their consent is recorded on it. A team
    order's seats are colleagues who upload their own photos: the buyer's tick is their
    agreement to order (still required) but is not recorded as the colleagues' consent; each
    seat's subject is created with consent pending, given on the upload page."""
    from apps.models.models import Style
    from apps.photos import services as photo_services

    if not package.active:
        raise ValidationError({"package": "This package is no longer offered. Choose another."})
    if package.per_seat and not consent_given:
        raise ValidationError(
            {
                "consent": "Tick the box to confirm you have permission to order portraits "
                "for each person."
            }
        )
    if package.per_seat:
        if workspace.kind != Workspace.Kind.TEAM:
            raise ValidationError(
                {"package": "Team packages are for team workspaces. Create a team first."}
            )
        if not 1 <= seats <= settings.ORDER_MAX_SEATS:
            raise ValidationError(
                {"seats": f"Choose between 1 and {settings.ORDER_MAX_SEATS} seats."}
            )
        if workspace.team_style_slugs:
            styles = list(Style.objects.filter(slug__in=workspace.team_style_slugs, active=True))
        elif styles:
            workspace_team_styles_set(workspace=workspace, styles=styles, actor=buyer)
    else:
        seats = 1
    if package.per_seat and not consent_given:
        raise ValidationError(
            {
                "consent": "Tick the box to confirm you have permission to order portraits "
                "for each person."
            }
        )
    if not styles:
        raise ValidationError({"styles": "Choose at least one style."})
    if len(styles) > package.styles_count:
        raise ValidationError(
            {"styles": f"{package.name} includes {package.styles_count} styles; choose fewer."}
        )
    order = Order(
        workspace=workspace,
        buyer=buyer,
        package=package,
        seats=seats,
        amount=package.price_amount * seats,
        currency=package.currency,
    )
    order.full_clean()
    order.save()
    order.styles.set(styles)
    for number in range(1, seats + 1):
        person = None if package.per_seat else buyer
        name = buyer.display_name if person else f"Seat {number}"
        subject = photo_services.subject_create(
            workspace=workspace,
            actor=buyer,
            display_name=name,
            consent_given=consent_given,
            consent_pending=package.per_seat,
            user=person,
        )
        Seat.unscoped.create(workspace=workspace, order=order, subject=subject, member=person)
    audit_record(
        actor=buyer,
        action="order.create",
        workspace=workspace,
        target_type="order",
        target_ids=[order.public_id],
        details={"package": package.slug, "seats": seats, "amount": order.amount},
    )
    return order


@transaction.atomic
def seat_assign(*, seat: Seat, actor: User, member: User | None = None, email: str = "") -> Seat:
    """Give a team seat to a member, or hold it for an invited email address. Refused once
    photos are uploaded: the photos (and the consent) belong to the person already there.
    Moving a seat to another person before any upload sets the subject's consent back to
    pending unless the new member gave it themselves: consent is about the person in the
    photos, and the previous one's (or a manager's on their behalf) does not carry over."""
    from apps.photos.models import Photo, Subject

    # Lock the subject, then the seat (the same order as erasure, so the two cannot deadlock).
    # photo_upload holds the subject lock while it checks consent and stores, so no upload
    # lands between the photo check below and the move (and consent reset).
    subject_id = Seat.unscoped.filter(pk=seat.pk).values_list("subject_id", flat=True).first()
    if subject_id:
        Subject.unscoped.select_for_update().filter(pk=subject_id).first()
    seat = Seat.unscoped.select_for_update().select_related("order").get(pk=seat.pk)
    if seat.order.status in (Order.Status.REFUNDED, Order.Status.CANCELLED):
        raise ValidationError("This order is closed; its seats cannot change.")
    if seat.subject_id and Photo.unscoped.filter(subject_id=seat.subject_id).exists():
        raise ValidationError("Photos were already uploaded for this seat; it cannot be moved.")
    email = email.strip().lower()
    previous = (seat.member_id, seat.invited_email)
    if member is not None:
        if not Membership.objects.filter(workspace_id=seat.workspace_id, user=member).exists():
            raise ValidationError("Only members of this workspace can be given a seat.")
        taken = Seat.unscoped.filter(order_id=seat.order_id, member=member).exclude(pk=seat.pk)
        if taken.exists():
            raise ValidationError("This person already has a seat in this order.")
        seat.member, seat.invited_email = member, ""
        display_name = member.display_name
    elif email:
        seat.member, seat.invited_email = None, email
        display_name = email.split("@")[0]
    else:
        raise ValidationError("Choose a member or enter an email address.")
    seat.save(update_fields=["member", "invited_email"])
    consent_reset = 0
    if seat.subject_id:
        Subject.unscoped.filter(pk=seat.subject_id).update(
            user=seat.member, display_name=display_name[:120]
        )
        if previous != (seat.member_id, seat.invited_email):
            given_by_other = Subject.unscoped.filter(
                pk=seat.subject_id, consent_given_at__isnull=False
            )
            if seat.member_id is not None:
                given_by_other = given_by_other.exclude(consent_given_by_id=seat.member_id)
            consent_reset = given_by_other.update(
                consent_given_at=None, consent_given_by=None, consent_version=""
            )
    audit_record(
        actor=actor,
        action="seat.assign",
        workspace=seat.workspace,
        target_type="seat",
        target_ids=[seat.public_id],
        details={
            "member": bool(member),
            "invited": bool(email and member is None),
            "consent_reset": bool(consent_reset),
        },
    )
    return seat


def seats_claim_for_member(*, workspace: Workspace, user: User) -> int:
    """Seats held for an invited address become the person's once they have joined (call after
    an invitation is accepted). Returns how many seats they now hold."""
    held = Seat.unscoped.filter(
        workspace=workspace, member__isnull=True, invited_email__iexact=user.email
    )
    claimed = 0
    for seat in held:
        try:
            seat_assign(seat=seat, actor=user, member=user)
        except ValidationError:
            continue  # photos already uploaded there, or a seat in the same order taken
        claimed += 1
    return claimed
