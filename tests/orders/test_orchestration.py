"""The pipeline rules from payment to delivery, driven through the orchestration entry points
with job rows set as the ML worker leaves them (the real worker runs in test_pipeline.py)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from apps.models.models import GenerationJob, JobStatus, TrainingJob
from apps.orders import emails, orchestration, services
from apps.orders.models import CreditLedger, Order, Seat
from apps.orders.selectors import credit_balance
from tests.factories import LoraAdapterFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, tuple]]:
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        "config.tasks.send_now", lambda name, *args, **options: calls.append((name, args))
    )
    return calls


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run a block and then its on-commit sends, as after a real commit."""

    def run(function, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(**kwargs)

    return run


def paid(order: Order, on_commit) -> Order:
    on_commit(
        services.order_mark_paid,
        order=order,
        amount=order.amount,
        currency=order.currency,
        payment_intent_id=f"pi_{order.pk}",
    )
    order.refresh_from_db()
    return order


def finish_training(seat: Seat, on_commit, *, status=JobStatus.SUCCEEDED) -> TrainingJob:
    """What the ML worker leaves behind, then the training_finished actor's call."""
    job = TrainingJob.unscoped.get(seat=seat, status=JobStatus.QUEUED)
    adapter = None
    if status == JobStatus.SUCCEEDED:
        adapter = LoraAdapterFactory(
            subject=seat.subject, base_model=job.base_model, workspace=seat.workspace
        )
    TrainingJob.unscoped.filter(pk=job.pk).update(status=status, adapter=adapter)
    on_commit(orchestration.seat_training_finished, training_job_id=job.pk)
    return job


def finish_generation(job: GenerationJob, on_commit, *, status=JobStatus.SUCCEEDED) -> None:
    GenerationJob.unscoped.filter(pk=job.pk).update(status=status, progress_step=job.count)
    on_commit(orchestration.seat_generation_finished, generation_job_id=job.pk)


def order_emails(sent, kind):
    return [a for n, a in sent if n == "send_order_email" and a[1] == kind]


def test_image_shares():
    assert orchestration.image_shares(40, 4) == [10, 10, 10, 10]
    assert orchestration.image_shares(100, 8) == [13, 13, 13, 13, 12, 12, 12, 12]
    assert orchestration.image_shares(60, 1) == [60]
    assert sum(orchestration.image_shares(61, 4)) == 61
    assert orchestration.image_shares(5, 0) == []


def test_photos_before_payment_make_the_seat_ready_not_training(make_order, on_commit):
    order = make_order()
    seat = order.seat_set.get()
    on_commit(orchestration.seat_subject_photos_changed, subject_id=seat.subject_id)
    seat.refresh_from_db()
    assert seat.status == Seat.Status.READY
    assert not TrainingJob.unscoped.exists()


def test_the_whole_rule_chain_to_one_delivered_email(make_order, on_commit, sent, styles):
    order = paid(make_order(), on_commit)
    seat = order.seat_set.get()
    assert seat.status == Seat.Status.TRAINING and order.status == Order.Status.PROCESSING

    finish_training(seat, on_commit)
    jobs = list(GenerationJob.unscoped.filter(seat=seat).order_by("style__sort_order"))
    assert [(j.style_id, j.count, j.kind) for j in jobs] == [
        (style.pk, 10, "initial") for style in styles
    ]
    seat.refresh_from_db()
    assert seat.status == Seat.Status.GENERATING

    for job in jobs[:-1]:
        finish_generation(job, on_commit)
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING and order_emails(sent, "delivered") == []

    finish_generation(jobs[-1], on_commit)
    order.refresh_from_db()
    seat.refresh_from_db()
    assert (order.status, seat.status) == (Order.Status.DELIVERED, Seat.Status.DELIVERED)
    assert order.delivered_at is not None
    # Redelivered "finished" messages change nothing and send nothing more.
    on_commit(orchestration.seat_generation_finished, generation_job_id=jobs[-1].pk)
    on_commit(orchestration.seat_training_finished, training_job_id=TrainingJob.unscoped.get().pk)
    assert order_emails(sent, "delivered") == [(order.pk, "delivered")]
    assert GenerationJob.unscoped.count() == 4


def test_team_order_is_delivered_when_every_seat_is(make_order, on_commit, sent):
    order = paid(make_order(seats=2), on_commit)
    first, second = order.seat_set.order_by("pk")
    for seat in (first, second):
        finish_training(seat, on_commit)
    for job in GenerationJob.unscoped.filter(seat=first):
        finish_generation(job, on_commit)
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
    for job in GenerationJob.unscoped.filter(seat=second):
        finish_generation(job, on_commit)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert len(order_emails(sent, "delivered")) == 1


def test_training_failure_fails_the_seat_and_tells_customer_and_support(
    make_order, on_commit, sent, settings
):
    order = paid(make_order(), on_commit)
    seat = order.seat_set.get()
    finish_training(seat, on_commit, status=JobStatus.FAILED)
    seat.refresh_from_db()
    order.refresh_from_db()
    assert (seat.status, order.status) == (Seat.Status.FAILED, Order.Status.FAILED)
    assert not GenerationJob.unscoped.exists()
    assert order.refunded_at is None  # no automatic refund: support decides
    failures = [a for n, a in sent if n == "send_order_email" and "failed" in a[1]]
    assert failures == [
        (order.pk, "training_failed", seat.pk),
        (order.pk, "support_training_failed", seat.pk),
    ]
    for _, kind, seat_id in failures:
        emails.order_email_send(order_id=order.pk, kind=kind, seat_id=seat_id)
    assert [m.to for m in mail.outbox] == [[order.buyer.email], [settings.SUPPORT_EMAIL]]
    assert order.buyer.email not in mail.outbox[1].body  # support mail: ids only

    # Support re-runs the seat: a new training job, the order is back in progress.
    assert orchestration.seat_retry_training(seat=seat, actor=UserFactory(is_staff=True))
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
    assert TrainingJob.unscoped.filter(status=JobStatus.QUEUED).count() == 1


def test_generation_failure_fails_the_seat(make_order, on_commit, sent):
    order = paid(make_order(), on_commit)
    seat = order.seat_set.get()
    finish_training(seat, on_commit)
    jobs = list(GenerationJob.unscoped.filter(seat=seat))
    finish_generation(jobs[0], on_commit, status=JobStatus.FAILED)
    for job in jobs[1:]:
        finish_generation(job, on_commit)
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED
    assert order_emails(sent, "support_generation_failed")
    assert order_emails(sent, "delivered") == []


def test_refund_while_training_means_no_generation(make_order, on_commit):
    order = paid(make_order(), on_commit)
    seat = order.seat_set.get()
    job = TrainingJob.unscoped.get()
    services.order_mark_refunded(order=order, amount=order.amount, reference="ch_1")
    # The worker finished just as the refund landed.
    TrainingJob.unscoped.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED,
        adapter=LoraAdapterFactory(subject=seat.subject, workspace=seat.workspace),
    )
    on_commit(orchestration.seat_training_finished, training_job_id=job.pk)
    assert not GenerationJob.unscoped.exists()
    seat.refresh_from_db()
    assert seat.status == Seat.Status.CANCELLED


def test_reroll_spends_one_credit_per_job_and_refuses_at_zero(make_order, on_commit, styles):
    order = paid(make_order(reroll_credits=1), on_commit)
    seat = order.seat_set.get()
    finish_training(seat, on_commit)
    with pytest.raises(ValidationError, match="once your order is delivered"):
        services.order_reroll(order=order, seat=seat, style=styles[0], actor=order.buyer)
    for job in GenerationJob.unscoped.all():
        finish_generation(job, on_commit)
    order.refresh_from_db()
    assert credit_balance(order=order) == 1

    job = on_commit(
        services.order_reroll, order=order, seat=seat, style=styles[1], actor=order.buyer
    )
    assert (job.kind, job.count, job.style_id, job.seat_id) == ("reroll", 4, styles[1].pk, seat.pk)
    entry = CreditLedger.unscoped.get(kind="reroll")
    assert (entry.credits, entry.reference) == (-1, str(job.public_id))
    assert credit_balance(order=order) == 0
    with pytest.raises(ValidationError, match="no re-roll credits left"):
        services.order_reroll(order=order, seat=seat, style=styles[1], actor=order.buyer)
    assert GenerationJob.unscoped.filter(kind="reroll").count() == 1
    # A finished re-roll does not touch the delivered order.
    finish_generation(job, on_commit)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED


def test_ledger_rows_are_only_ever_added(make_order, on_commit, styles):
    """Append-only: every service writes new rows; none updates or deletes one."""
    order = paid(make_order(reroll_credits=2), on_commit)
    first = list(CreditLedger.unscoped.values_list("pk", "kind", "credits", "reference"))
    services.order_mark_refunded(order=order, amount=order.amount, reference="ch_9")
    after = list(
        CreditLedger.unscoped.order_by("pk").values_list("pk", "kind", "credits", "reference")
    )
    assert after[: len(first)] == first
    assert after[-1][1:] == ("refund", -2, "ch_9")
