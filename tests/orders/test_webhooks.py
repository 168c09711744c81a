"""The Stripe webhook with real signed payloads: signature and age checks, storing by event id,
processing once, events in any order, and rollback on errors."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from apps.models.models import JobStatus, TrainingJob
from apps.orders import webhooks
from apps.orders.models import CreditLedger, Order, Seat, StripeEvent
from apps.orders.selectors import credit_balance
from tests.orders.conftest import dispute_event, refund_event, session_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, tuple]]:
    """Actor sends made on commit, recorded instead of sent."""
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        "config.tasks.send_now", lambda name, *args, **options: calls.append((name, args))
    )
    return calls


@pytest.fixture
def deliver(client, post_event, django_capture_on_commit_callbacks, sent):
    """POST an event and run its on-commit sends (recorded in ``sent``)."""

    def run(payload, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post_event(client, payload, **kwargs)

    return run


def emails(sent, kind: str) -> list:
    return [args for name, args in sent if name == "send_order_email" and args[1] == kind]


# --- Signatures -------------------------------------------------------------------------------


def test_valid_signature_is_accepted_and_stored(deliver, make_order):
    order = make_order()
    payload = session_event(order)
    response = deliver(payload)
    assert response.status_code == 200
    stored = StripeEvent.objects.get(stripe_id=payload["id"])
    assert stored.status == StripeEvent.Status.PROCESSED
    assert stored.payload == payload and stored.payment_intent_id == "pi_test_1"


@pytest.mark.parametrize("tamper", ["one_byte", "wrong_secret", "too_old", "no_header", "garbage"])
def test_bad_signatures_are_refused_with_400_and_change_nothing(
    client, post_event, make_order, tamper
):
    order = make_order()
    body = json.dumps(session_event(order)).encode()
    if tamper == "one_byte":
        signed_for = body
        body = body.replace(b'"paid"', b'"paie"', 1)
        from tests.orders.conftest import stripe_signature

        response = client.post(
            "/stripe/webhook/",
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=stripe_signature(signed_for),
        )
    elif tamper == "wrong_secret":
        response = post_event(client, body, secret="whsec_someone_else")
    elif tamper == "too_old":
        response = post_event(client, body, timestamp=int(time.time()) - 301)
    elif tamper == "no_header":
        response = client.post("/stripe/webhook/", data=body, content_type="application/json")
    else:
        response = post_event(client, b"not json at all")
    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0
    order.refresh_from_db()
    assert order.paid_at is None


def test_timestamp_300_seconds_old_is_still_accepted(client, post_event, make_order):
    order = make_order()
    response = post_event(client, session_event(order), timestamp=int(time.time()) - 290)
    assert response.status_code == 200


def test_no_webhook_secret_configured_refuses_everything(client, post_event, settings, make_order):
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = post_event(client, session_event(make_order()), secret="")
    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_get_is_not_allowed(client):
    assert client.get("/stripe/webhook/").status_code == 405


def test_unknown_event_types_are_stored_as_ignored_with_200(deliver):
    from tests.orders.conftest import event

    payload = event("customer.created", {"id": "cus_1", "object": "customer"})
    assert deliver(payload).status_code == 200
    assert StripeEvent.objects.get(stripe_id=payload["id"]).status == StripeEvent.Status.IGNORED


def test_session_for_an_unknown_order_is_ignored(deliver, make_order):
    order = make_order()
    payload = session_event(order)
    payload["data"]["object"]["metadata"] = {"order_id": "not-a-uuid"}
    payload["data"]["object"]["client_reference_id"] = None
    assert deliver(payload).status_code == 200
    assert StripeEvent.objects.get().status == StripeEvent.Status.IGNORED
    order.refresh_from_db()
    assert order.paid_at is None


# --- Payment ----------------------------------------------------------------------------------


def test_completed_marks_paid_starts_training_grants_credits_and_sends_a_receipt(
    deliver, make_order, sent
):
    order = make_order()
    assert deliver(session_event(order)).status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING
    assert order.paid_at is not None and order.payment_intent_id == "pi_test_1"
    assert order.checkout_session_id == f"cs_test_{order.public_id.hex[:12]}"
    seat = order.seat_set.get()
    assert seat.status == Seat.Status.TRAINING
    job = TrainingJob.unscoped.get()
    assert (job.seat_id, job.subject_id, job.status) == (seat.pk, seat.subject_id, "queued")
    assert [(e.kind, e.credits) for e in CreditLedger.unscoped.filter(order=order)] == [
        ("purchase", order.package.reroll_credits)
    ]
    assert emails(sent, "paid") == [(order.pk, "paid")]
    assert ("train_lora", (job.pk,)) in sent


def test_the_same_event_twice_changes_nothing_the_second_time(deliver, make_order, sent):
    order = make_order()
    payload = session_event(order)
    deliver(payload)
    sent.clear()
    assert deliver(payload).status_code == 200
    assert TrainingJob.unscoped.count() == 1
    assert CreditLedger.unscoped.count() == 1
    assert sent == []


def test_paid_without_photos_waits_and_starts_when_photos_arrive(deliver, make_order, sent):
    from apps.orders import orchestration
    from tests.orders.conftest import add_photos

    order = make_order(photos=False)
    deliver(session_event(order))
    order.refresh_from_db()
    seat = order.seat_set.get()
    assert (order.status, seat.status) == (Order.Status.PAID, Seat.Status.WAITING_PHOTOS)
    assert not TrainingJob.unscoped.exists()

    add_photos(seat.subject)
    orchestration.seat_subject_photos_changed(subject_id=seat.subject_id)
    seat.refresh_from_db()
    order.refresh_from_db()
    assert (order.status, seat.status) == (Order.Status.PROCESSING, Seat.Status.TRAINING)
    assert TrainingJob.unscoped.count() == 1


def test_amount_mismatch_is_recorded_for_support_and_pays_nothing(deliver, make_order):
    order = make_order()
    payload = session_event(order, amount=order.amount - 1)
    assert deliver(payload).status_code == 200  # retrying would not fix it
    stored = StripeEvent.objects.get()
    assert stored.status == StripeEvent.Status.FAILED and "amount mismatch" in stored.error
    order.refresh_from_db()
    assert order.paid_at is None and not TrainingJob.unscoped.exists()


def test_currency_mismatch_pays_nothing(deliver, make_order):
    order = make_order()
    deliver(session_event(order, currency="eur"))
    order.refresh_from_db()
    assert order.paid_at is None


def test_async_payment_waits_then_succeeds(deliver, make_order):
    order = make_order()
    deliver(session_event(order, payment_status="unpaid"))
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT and order.paid_at is None
    assert not TrainingJob.unscoped.exists()

    deliver(session_event(order, event_type="checkout.session.async_payment_succeeded"))
    order.refresh_from_db()
    assert order.paid_at is not None and order.status == Order.Status.PROCESSING
    assert TrainingJob.unscoped.count() == 1


def test_async_payment_failed_starts_nothing_and_tells_the_customer(deliver, make_order, sent):
    order = make_order()
    deliver(session_event(order, payment_status="unpaid"))
    deliver(
        session_event(
            order, event_type="checkout.session.async_payment_failed", payment_status="unpaid"
        )
    )
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT and order.paid_at is None
    assert not TrainingJob.unscoped.exists()
    assert not CreditLedger.unscoped.exists()
    assert emails(sent, "payment_failed") == [(order.pk, "payment_failed")]
    assert emails(sent, "paid") == []


# --- Refunds and disputes ---------------------------------------------------------------------


def test_refund_after_payment_stops_training_and_clears_credits(deliver, make_order):
    order = make_order()
    deliver(session_event(order))
    deliver(refund_event(order))
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.refunded_amount == order.amount and order.refunded_at is not None
    assert TrainingJob.unscoped.get().status == JobStatus.CANCELLED
    assert order.seat_set.get().status == Seat.Status.CANCELLED
    assert credit_balance(order=order) == 0
    assert CreditLedger.unscoped.get(kind="refund").reference == "ch_test_1"


def test_partial_refund_only_records_the_amount(deliver, make_order):
    order = make_order()
    deliver(session_event(order))
    deliver(refund_event(order, amount=500))
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING and order.refunded_amount == 500
    assert TrainingJob.unscoped.get().status == JobStatus.QUEUED


def test_dispute_won_after_delivery_restores_downloads(deliver, make_order):
    order = make_order()
    deliver(session_event(order))
    Order.unscoped.filter(pk=order.pk).update(
        status=Order.Status.DELIVERED, delivered_at=order.created_at
    )
    deliver(dispute_event(order))
    order.refresh_from_db()
    assert order.status == Order.Status.DISPUTED
    deliver(dispute_event(order, event_type="charge.dispute.closed", status="won"))
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED


EVENTS = ("completed", "refunded", "disputed")


@pytest.mark.parametrize(
    "metadata_on_charge", [True, False], ids=["charge-metadata", "no-metadata"]
)
@pytest.mark.parametrize("sequence", list(itertools.permutations(EVENTS)), ids="-".join)
def test_any_order_of_completed_refunded_disputed_ends_the_same(
    deliver, make_order, sequence, metadata_on_charge
):
    order = make_order()
    builders = {
        "completed": lambda: session_event(order),
        "refunded": lambda: refund_event(order, with_metadata=metadata_on_charge),
        "disputed": lambda: dispute_event(order),
    }
    for position, name in enumerate(sequence):
        payload = builders[name]()
        assert deliver(payload).status_code == 200
        paid_yet = "completed" in sequence[: position + 1]
        attributable = name == "refunded" and metadata_on_charge
        if not paid_yet and not attributable:
            # Nothing names the order yet: kept until the payment is processed.
            stored = StripeEvent.objects.get(stripe_id=payload["id"])
            assert stored.status == StripeEvent.Status.DEFERRED

    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.paid_at and order.refunded_at and order.disputed_at
    assert order.payment_intent_id == "pi_test_1"
    assert credit_balance(order=order) == 0
    assert order.seat_set.get().status == Seat.Status.CANCELLED
    assert not TrainingJob.unscoped.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
    if sequence.index("completed") > min(sequence.index("refunded"), sequence.index("disputed")):
        # Refund or dispute first: the payment arrives to a stopped order and starts nothing.
        assert not TrainingJob.unscoped.exists()
    else:
        assert TrainingJob.unscoped.get().status == JobStatus.CANCELLED
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_reconciliation_applies_a_deferred_refund_once_its_payment_is_known(deliver, make_order):
    order = make_order()
    deliver(refund_event(order, with_metadata=False))
    assert StripeEvent.objects.get().status == StripeEvent.Status.DEFERRED
    # The payment became known some other way (e.g. support linked it) without replaying.
    Order.unscoped.filter(pk=order.pk).update(payment_intent_id="pi_test_1")
    assert webhooks.stripe_events_retry_deferred() == 1
    assert webhooks.stripe_events_retry_deferred() == 0
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_an_exception_rolls_everything_back_and_the_retry_succeeds_once(
    client, post_event, make_order, monkeypatch, django_capture_on_commit_callbacks, sent
):
    order = make_order()
    payload = session_event(order)
    original = webhooks.HANDLERS["checkout.session.completed"]
    calls = {"n": 0}

    def flaky(event, obj):
        calls["n"] += 1
        result = original(event, obj)  # does all its writes ...
        if calls["n"] == 1:
            raise RuntimeError("database hiccup")  # ... then fails
        return result

    monkeypatch.setitem(webhooks.HANDLERS, "checkout.session.completed", flaky)
    client.raise_request_exception = False
    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(client, payload)
    assert response.status_code == 500
    order.refresh_from_db()
    assert order.paid_at is None and order.status == Order.Status.DRAFT
    stored = StripeEvent.objects.get()
    assert stored.status == StripeEvent.Status.FAILED and stored.processed_at is None
    assert not TrainingJob.unscoped.exists() and not CreditLedger.unscoped.exists()
    assert sent == []

    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(client, payload).status_code == 200  # Stripe's retry
    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(client, payload).status_code == 200  # and a late duplicate
    order.refresh_from_db()
    assert order.paid_at is not None
    assert TrainingJob.unscoped.count() == 1 and CreditLedger.unscoped.count() == 1
    assert StripeEvent.objects.get().status == StripeEvent.Status.PROCESSED
    assert calls["n"] == 2
    assert len(emails(sent, "paid")) == 1
