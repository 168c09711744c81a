"""Reads for orders: packages, order lists, progress, the gallery and the download policy.

Who sees what: owners and admins see every order and seat of the workspace; a member sees only
orders in which they hold a seat, and only their own seat's photos and portraits (as the photos
app shows members only their own subjects).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum

from apps.accounts.models import Membership, Workspace
from apps.orders.models import CreditLedger, Order, Package, Seat, ZipExport


def packages_active() -> QuerySet[Package]:
    return Package.objects.filter(active=True)


def packages_for_workspace(workspace: Workspace) -> QuerySet[Package]:
    """Per-seat packages only make sense where there are colleagues to seat."""
    packages = packages_active()
    if workspace.kind != Workspace.Kind.TEAM:
        packages = packages.filter(per_seat=False)
    return packages


def styles_active() -> QuerySet:
    from apps.models.models import Style

    return Style.objects.filter(active=True)


def team_styles(workspace: Workspace) -> list:
    if not workspace.team_style_slugs:
        return []
    return list(styles_active().filter(slug__in=workspace.team_style_slugs))


def orders_for_member(*, workspace: Workspace, membership: Membership) -> QuerySet[Order]:
    orders = Order.objects.for_workspace(workspace).select_related("package")
    if not membership.can_manage:
        orders = orders.filter(seat_set__member_id=membership.user_id).distinct()
    return orders.order_by("-created_at")


def order_for_member(*, workspace: Workspace, membership: Membership, public_id) -> Order | None:
    return (
        orders_for_member(workspace=workspace, membership=membership)
        .filter(public_id=public_id)
        .first()
    )


def seats_for_member(*, order: Order, membership: Membership) -> list[Seat]:
    seats = Seat.objects.for_workspace(order.workspace).filter(order=order)
    if not membership.can_manage:
        seats = seats.filter(member_id=membership.user_id)
    return list(seats.select_related("subject", "member").order_by("created_at", "pk"))


def credit_balance(*, order: Order) -> int:
    return CreditLedger.unscoped.filter(order=order).aggregate(total=Sum("credits"))["total"] or 0


def ledger_for_order(order: Order) -> QuerySet[CreditLedger]:
    return (
        CreditLedger.objects.for_workspace(order.workspace)
        .filter(order=order)
        .order_by("created_at", "pk")
    )


# --- Downloads policy (see apps/orders/services.py) -------------------------------------------


# Statuses in which the customer may see and download their portraits.
DOWNLOADABLE = (Order.Status.PROCESSING, Order.Status.DELIVERED, Order.Status.FAILED)


def downloads_allowed(*, order: Order) -> bool:
    return order.status in DOWNLOADABLE


def downloads_blocked_reason(*, order: Order) -> str:
    if order.status == Order.Status.REFUNDED:
        return "This order was refunded, so its portraits are no longer available to download."
    if order.status == Order.Status.DISPUTED:
        return (
            "Downloads are paused while a payment dispute on this order is open. Contact "
            "support if you think this is a mistake."
        )
    return "Your portraits are not ready yet. This page shows them as soon as they are."


def subject_downloads_allowed(*, subject_id: int) -> bool:
    """For the photos app's image view: False when the subject's order is refunded or
    disputed (subjects outside any order are not restricted here)."""
    seat = Seat.unscoped.filter(subject_id=subject_id).select_related("order").first()
    return seat is None or downloads_allowed(order=seat.order)


def gallery_images(*, order: Order, seats: list[Seat] | None = None) -> QuerySet:
    """The portraits the customer may see: delivered or approved, of the given seats (all of
    the order's seats by default), grouped by person and style."""
    from apps.photos.models import GeneratedImage

    if seats is None:
        seats = list(Seat.unscoped.filter(order=order))
    subject_ids = [seat.subject_id for seat in seats if seat.subject_id]
    return (
        GeneratedImage.objects.for_workspace(order.workspace)
        .filter(
            subject_id__in=subject_ids,
            moderation_status__in=[
                GeneratedImage.Moderation.DELIVERED,
                GeneratedImage.Moderation.APPROVED,
            ],
        )
        .exclude(image="")
        .select_related("style", "subject")
        .order_by("subject_id", "style__sort_order", "style__name", "created_at", "pk")
    )


def gallery_image(*, order: Order, seats: list[Seat], public_id):
    return gallery_images(order=order, seats=seats).filter(public_id=public_id).first()


def held_images_count(*, order: Order, seats: list[Seat]) -> int:
    from apps.photos.models import GeneratedImage

    return (
        GeneratedImage.objects.for_workspace(order.workspace)
        .filter(
            subject_id__in=[s.subject_id for s in seats if s.subject_id],
            moderation_status=GeneratedImage.Moderation.HELD,
        )
        .count()
    )


def export_for_order(*, order: Order, public_id) -> ZipExport | None:
    return (
        ZipExport.objects.for_workspace(order.workspace)
        .filter(order=order, public_id=public_id)
        .first()
    )


def latest_export(*, order: Order) -> ZipExport | None:
    return (
        ZipExport.objects.for_workspace(order.workspace)
        .filter(order=order)
        .order_by("-created_at")
        .first()
    )


# --- Progress ---------------------------------------------------------------------------------


@dataclass
class SeatProgress:
    seat: Seat
    photos_accepted: int = 0
    photos_pending: int = 0
    photos_needed: int = 0
    training_percent: int = 0
    training_error: str = ""
    images_done: int = 0
    images_total: int = 0


@dataclass
class Step:
    label: str
    state: str  # done | current | todo | stopped


@dataclass
class OrderProgress:
    order: Order
    seats: list[SeatProgress] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    @property
    def polling(self) -> bool:
        """Keep refreshing while something can still change without the customer acting."""
        paid = self.order.paid_at is not None
        busy = any(
            s.seat.status in (Seat.Status.TRAINING, Seat.Status.GENERATING)
            or (paid and s.seat.status == Seat.Status.READY)
            or s.photos_pending
            for s in self.seats
        )
        return busy or self.order.status == Order.Status.AWAITING_PAYMENT


def order_progress(*, order: Order, seats: list[Seat]) -> OrderProgress:
    """Per seat: photos, training %, images made of how many; and the order's five steps
    (photos -> paid -> training -> generating -> delivered). Three queries whatever the seats."""
    from apps.models.models import GenerationJob, JobStatus, TrainingJob
    from apps.photos.models import Photo

    subject_ids = [s.subject_id for s in seats if s.subject_id]
    live = Photo.unscoped.filter(subject_id__in=subject_ids, purged_at__isnull=True)
    counts = {
        row["subject_id"]: row
        for row in live.values("subject_id").annotate(
            accepted=Count("pk", filter=Q(status=Photo.Status.ACCEPTED)),
            pending=Count("pk", filter=Q(status=Photo.Status.PENDING)),
        )
    }
    training = {}
    for job in TrainingJob.unscoped.filter(seat__in=seats).order_by("created_at", "pk"):
        training[job.seat_id] = job  # the latest wins
    generation: dict[int, list] = {}
    latest_adapter = {
        seat_id: job.adapter_id for seat_id, job in training.items() if job.adapter_id
    }
    for job in GenerationJob.unscoped.filter(seat__in=seats, kind=GenerationJob.Kind.INITIAL):
        if job.adapter_id == latest_adapter.get(job.seat_id):
            generation.setdefault(job.seat_id, []).append(job)

    progress = OrderProgress(order=order)
    per_seat = order.package.images_per_seat
    for seat in seats:
        row = counts.get(seat.subject_id, {})
        accepted = row.get("accepted", 0)
        item = SeatProgress(
            seat=seat,
            photos_accepted=accepted,
            photos_pending=row.get("pending", 0),
            photos_needed=max(0, settings.PHOTO_MIN_PER_SUBJECT - accepted),
            images_total=per_seat,
        )
        job = training.get(seat.pk)
        if job is not None:
            item.training_percent = job.percent
            item.training_error = job.error if job.status == JobStatus.FAILED else ""
        for gen in generation.get(seat.pk, []):
            if gen.status == JobStatus.SUCCEEDED:
                item.images_done += gen.count
            else:
                item.images_done += min(gen.progress_step, gen.count)
        progress.seats.append(item)
    progress.steps = _steps(order, progress.seats)
    return progress


def _steps(order: Order, seats: list[SeatProgress]) -> list[Step]:
    stopped = order.status in (Order.Status.REFUNDED, Order.Status.DISPUTED, Order.Status.CANCELLED)
    trained = (Seat.Status.GENERATING, Seat.Status.DELIVERED)
    done = [
        bool(seats) and all(s.photos_needed == 0 or s.seat.status in trained for s in seats),
        order.paid_at is not None,
        bool(seats) and all(s.seat.status in trained for s in seats),
        bool(seats) and all(s.seat.status == Seat.Status.DELIVERED for s in seats),
        order.status == Order.Status.DELIVERED or order.delivered_at is not None,
    ]
    labels = ["Photos", "Paid", "Training", "Generating", "Delivered"]
    steps = []
    current_found = False
    for label, is_done in zip(labels, done, strict=True):
        if is_done:
            state = "done"
        elif stopped:
            state = "stopped"
        elif not current_found:
            state, current_found = "current", True
        else:
            state = "todo"
        steps.append(Step(label=label, state=state))
    return steps
