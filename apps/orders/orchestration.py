"""The pipeline from payment to delivered gallery: which job runs next for each seat.

Entry points, called by actors (by name) when something upstream changes, and by services:

- ``seat_subject_photos_changed(subject_id)``: a subject's accepted-photo count changed.
- ``order_start_ready_seats(order)``: the order was just paid (called by ``order_mark_paid``).
- ``seat_training_finished(training_job_id)``: a training job ended (succeeded or failed).
- ``seat_generation_finished(generation_job_id)``: a generation job ended.
- ``order_stop_pipeline(order)``: a refund or dispute stops every unfinished seat.
- ``seat_retry_training(seat, actor)``: support re-runs a failed seat (admin action).

Rules:

- Every decision is taken with the order row locked (``select_for_update``), so "paid" and
  "photos ready" arriving at the same moment from two workers cannot both skip the start, and
  every transition is a guarded update, so five deliveries of the same news start one job.
- A seat trains once its subject has PHOTO_MIN..PHOTO_MAX accepted photos, none still being
  checked, *and* the order is paid (PAID/PROCESSING): WAITING_PHOTOS/READY -> TRAINING creates
  the TrainingJob.
- Training succeeded -> GENERATING: one GenerationJob per chosen style, the package's images per
  seat shared out evenly (40 over 4 styles = 10 each; a remainder goes to the first styles).
- All of a seat's initial generation jobs succeeded -> DELIVERED; all seats delivered -> the
  order is DELIVERED (guarded, so the customer gets exactly one email).
- Training (after the ML worker's own retries) or generation failing -> seat FAILED, order
  FAILED ("needs attention"), an email to the customer and one to support. We do **not**
  refund automatically: most failures come from photos (too similar, poorly lit) or a worker
  fault, both fixable; a person looks at it, re-runs with better photos
  (``seat_retry_training``) and refunds through the support site only when that fails, so
  money never moves on a transient fault and the customer still gets their portraits.
- A refunded or disputed order starts nothing: ``order_start_ready_seats`` and the finished
  handlers only act on PAID/PROCESSING/FAILED orders, and ``order_stop_pipeline`` cancels the
  seats and their jobs.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.services import audit_record
from apps.orders.models import Order, Seat
from config.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)

# Orders whose seats may move forward (FAILED: another seat may still be running or re-run).
ACTIVE = (Order.Status.PAID, Order.Status.PROCESSING, Order.Status.FAILED)
NOT_STARTED = (Seat.Status.WAITING_PHOTOS, Seat.Status.READY)
UNFINISHED = (*NOT_STARTED, Seat.Status.TRAINING, Seat.Status.GENERATING)


def _ml():
    # Imported when used: the ML services import our models, and this module is imported by
    # apps.orders.services at start-up.
    from apps.models import services

    return services


def _lock_order(order_id: int) -> Order:
    return Order.unscoped.select_for_update().select_related("package").get(pk=order_id)


def _photos_ready(subject) -> bool:
    """PHOTO_MIN..PHOTO_MAX accepted photos and none still being checked (a settled set)."""
    from apps.photos.selectors import subject_is_ready, subject_photo_counts

    if subject is None or not subject_is_ready(subject):
        return False
    return subject_photo_counts(subject).accepted <= settings.PHOTO_MAX_PER_SUBJECT


def image_shares(total: int, parts: int) -> list[int]:
    """``total`` images over ``parts`` styles, as evenly as whole numbers allow."""
    if parts <= 0:
        return []
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def _seat_start_training(*, order: Order, seat: Seat) -> bool:
    """With the order locked: start the seat's training if paid and its photos are ready."""
    if order.status not in ACTIVE or not _photos_ready(seat.subject):
        return False
    if not Seat.unscoped.filter(pk=seat.pk, status__in=NOT_STARTED).update(
        status=Seat.Status.TRAINING
    ):
        return False  # someone else started it
    seat.status = Seat.Status.TRAINING
    _ml().training_job_create(subject=seat.subject, seat=seat)
    return True


def _order_settle(*, order: Order) -> None:
    """With the order locked: derive the order's status from its seats' statuses."""
    if order.status not in ACTIVE:
        return
    statuses = set(Seat.unscoped.filter(order=order).values_list("status", flat=True))
    if (
        statuses
        and statuses <= {Seat.Status.DELIVERED, Seat.Status.CANCELLED}
        and (Seat.Status.DELIVERED in statuses)
    ):
        delivered = Order.unscoped.filter(pk=order.pk, status__in=ACTIVE).update(
            status=Order.Status.DELIVERED, delivered_at=timezone.now()
        )
        if delivered:  # the one transition that sends the one "ready" email
            order.status = Order.Status.DELIVERED
            enqueue_on_commit("send_order_email", order.pk, "delivered")
        return
    if Seat.Status.FAILED in statuses:
        target = Order.Status.FAILED
    elif statuses & {Seat.Status.TRAINING, Seat.Status.GENERATING, Seat.Status.DELIVERED}:
        target = Order.Status.PROCESSING
    else:
        target = Order.Status.PAID
    if target != order.status:
        Order.unscoped.filter(pk=order.pk, status=order.status).update(status=target)
        order.status = target


def order_start_ready_seats(*, order: Order) -> int:
    """Called inside ``order_mark_paid`` (order locked): start every seat whose photos are
    ready. Returns how many started."""
    started = 0
    for seat in Seat.unscoped.filter(order=order, status__in=NOT_STARTED).select_related("subject"):
        started += _seat_start_training(order=order, seat=seat)
    _order_settle(order=order)
    return started


def seat_subject_photos_changed(*, subject_id: int) -> None:
    seat = Seat.unscoped.filter(subject_id=subject_id).only("order_id").first()
    if seat is None:
        return  # a subject outside any order
    with transaction.atomic():
        order = _lock_order(seat.order_id)
        seat = Seat.unscoped.select_related("subject").get(pk=seat.pk)
        if seat.status not in NOT_STARTED:
            return
        if _seat_start_training(order=order, seat=seat):
            _order_settle(order=order)
        elif _photos_ready(seat.subject):
            Seat.unscoped.filter(pk=seat.pk, status=Seat.Status.WAITING_PHOTOS).update(
                status=Seat.Status.READY
            )
        else:
            Seat.unscoped.filter(pk=seat.pk, status=Seat.Status.READY).update(
                status=Seat.Status.WAITING_PHOTOS
            )


def _seat_failed(*, order: Order, seat: Seat, stage: str) -> None:
    enqueue_on_commit("send_order_email", order.pk, "training_failed", seat.pk)
    enqueue_on_commit("send_order_email", order.pk, f"support_{stage}_failed", seat.pk)
    logger.warning("order %s seat %s failed at %s", order.pk, seat.pk, stage)


def seat_training_finished(*, training_job_id: int) -> None:
    from apps.models.models import JobStatus, TrainingJob

    job = TrainingJob.unscoped.filter(pk=training_job_id).only("seat_id").first()
    if job is None or job.seat_id is None:
        return  # a job outside any order (a support re-run, a benchmark)
    seat_order_id = Seat.unscoped.filter(pk=job.seat_id).values_list("order_id", flat=True).first()
    if seat_order_id is None:
        return
    with transaction.atomic():
        order = _lock_order(seat_order_id)
        job = TrainingJob.unscoped.select_related("adapter").get(pk=training_job_id)
        seat = Seat.unscoped.get(pk=job.seat_id)
        if order.status not in ACTIVE:
            return  # refunded, disputed or cancelled meanwhile: nothing more is made
        if job.status == JobStatus.SUCCEEDED and job.adapter_id:
            # FAILED too: support re-ran a failed seat's job and it worked this time.
            if not Seat.unscoped.filter(
                pk=seat.pk, status__in=[Seat.Status.TRAINING, Seat.Status.FAILED]
            ).update(status=Seat.Status.GENERATING):
                return  # a redelivered message: generation already started
            styles = list(order.styles.order_by("sort_order", "name"))
            for style, count in zip(
                styles, image_shares(order.package.images_per_seat, len(styles)), strict=True
            ):
                if count:
                    _ml().generation_job_create(
                        adapter=job.adapter, style=style, count=count, seat=seat
                    )
        elif job.status == JobStatus.FAILED:
            if not Seat.unscoped.filter(pk=seat.pk, status=Seat.Status.TRAINING).update(
                status=Seat.Status.FAILED
            ):
                return
            _seat_failed(order=order, seat=seat, stage="training")
        else:
            return  # cancelled (a refund) or not finished: nothing to do
        _order_settle(order=order)


def seat_generation_finished(*, generation_job_id: int) -> None:
    from apps.models.models import GenerationJob, JobStatus

    job = GenerationJob.unscoped.filter(pk=generation_job_id).only("seat_id", "kind").first()
    if job is None or job.seat_id is None or job.kind != GenerationJob.Kind.INITIAL:
        return  # re-rolls and replacements do not change an order's delivery
    seat_order_id = Seat.unscoped.filter(pk=job.seat_id).values_list("order_id", flat=True).first()
    if seat_order_id is None:
        return
    with transaction.atomic():
        order = _lock_order(seat_order_id)
        job = GenerationJob.unscoped.get(pk=generation_job_id)
        seat = Seat.unscoped.get(pk=job.seat_id)
        if order.status not in ACTIVE or seat.status != Seat.Status.GENERATING:
            return
        # This adapter's round only: an earlier round's failed jobs do not count after a re-run.
        statuses = list(
            GenerationJob.unscoped.filter(
                seat=seat, kind=GenerationJob.Kind.INITIAL, adapter_id=job.adapter_id
            ).values_list("status", flat=True)
        )
        if any(status in (JobStatus.QUEUED, JobStatus.RUNNING) for status in statuses):
            return
        if all(status == JobStatus.SUCCEEDED for status in statuses):
            delivered = Seat.unscoped.filter(pk=seat.pk, status=Seat.Status.GENERATING).update(
                status=Seat.Status.DELIVERED
            )
            if delivered and seat.member_id and seat.member_id != order.buyer_id:
                # A team member hears about their own portraits; the buyer gets the order's
                # one "ready" email when every seat is done.
                enqueue_on_commit("send_order_email", order.pk, "seat_delivered", seat.pk)
        elif Seat.unscoped.filter(pk=seat.pk, status=Seat.Status.GENERATING).update(
            status=Seat.Status.FAILED
        ):
            _seat_failed(order=order, seat=seat, stage="generation")
        _order_settle(order=order)


def order_stop_pipeline(*, order: Order) -> None:
    """With the order locked (refund, dispute): cancel unfinished seats and every queued or
    running job of their subjects. Delivered seats keep their state (history)."""
    seats = list(Seat.unscoped.filter(order=order).select_related("subject"))
    Seat.unscoped.filter(order=order, status__in=UNFINISHED).update(status=Seat.Status.CANCELLED)
    for seat in seats:
        if seat.subject is not None:
            _ml().jobs_cancel_for_subject(subject=seat.subject)


def seat_retry_training(*, seat: Seat, actor) -> bool:
    """Support re-runs a failed (or dispute-interrupted) seat, e.g. after the customer replaced
    weak photos. True when a new training job was created; False when the seat now waits for
    photos."""
    with transaction.atomic():
        order = _lock_order(seat.order_id)
        if order.status not in ACTIVE:
            raise ValidationError("Only a paid order that is not refunded or disputed can re-run.")
        if not Seat.unscoped.filter(
            pk=seat.pk, status__in=[Seat.Status.FAILED, Seat.Status.CANCELLED]
        ).update(status=Seat.Status.READY):
            raise ValidationError("Only a failed or cancelled seat can be re-run.")
        seat = Seat.unscoped.select_related("subject").get(pk=seat.pk)
        started = _seat_start_training(order=order, seat=seat)
        if not started:
            Seat.unscoped.filter(pk=seat.pk, status=Seat.Status.READY).update(
                status=Seat.Status.WAITING_PHOTOS
            )
        _order_settle(order=order)
        audit_record(
            actor=actor,
            action="seat.retry_training",
            workspace=order.workspace,
            target_type="seat",
            target_ids=[seat.public_id],
            details={"started": started},
        )
    return started
