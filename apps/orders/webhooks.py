"""Stripe events: stored once by their unique id, processed exactly once, in any order.

``stripe_event_receive(event)`` is the single path for the webhook view and for
``manage.py stripe_reconcile``:

1. Store: insert ``StripeEvent(stripe_id=...)`` in its own transaction; an IntegrityError means
   it is already stored (a redelivery, or a concurrent delivery of the same event).
2. Process: in one ``transaction.atomic()``, lock the row (``select_for_update``); skip it if
   already processed/ignored/deferred; otherwise run the handler and mark the row — in the same
   transaction, so an exception rolls everything back (the view answers 500, Stripe retries,
   and the retry processes it once). Unknown types are marked IGNORED (the view answers 200).

Events in any order of arrival — the rules:

- ``checkout.session.completed`` with ``payment_status == "paid"`` (or
  ``checkout.session.async_payment_succeeded``) records the payment via ``order_mark_paid``,
  after checking ``amount_total`` and ``currency`` against the order (a mismatch marks the event
  FAILED for support and changes nothing). ``"unpaid"`` (bank debits) waits for the async
  event; ``async_payment_failed`` puts the order back to awaiting payment, emails the customer
  and starts nothing.
- The order is found by ``metadata.order_id`` / ``client_reference_id`` (sessions), or
  ``metadata.order_id`` / ``payment_intent`` (charges, disputes).
- A refund or dispute that arrives before its payment was processed and cannot be attributed
  yet (no metadata, payment intent unknown) is stored DEFERRED with its payment intent; the
  completed handler first records the payment intent, then applies every deferred event for it,
  and only then records the payment — so ``order_mark_paid`` sees a refunded/disputed order and
  starts no training.
- ``charge.refunded`` in full -> REFUNDED (terminal; stops the pipeline; clears credits);
  partial -> the amount is recorded, nothing stops. ``charge.dispute.created`` -> DISPUTED
  (unless refunded), pipeline stopped; ``charge.dispute.closed`` won -> downloads restored.
- Whatever the order, the end state is the same: e.g. completed + refunded + dispute in all six
  orders ends REFUNDED, paid, disputed, with zero credits and no running job.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.orders import services, stripe_gateway
from apps.orders.models import Order, StripeEvent

logger = logging.getLogger(__name__)

Status = StripeEvent.Status


def _obj(event: StripeEvent) -> dict:
    return (event.payload.get("data") or {}).get("object") or {}


def _payment_intent_of(event_type: str, obj: dict) -> str:
    value = obj.get("payment_intent") or ""
    if isinstance(value, dict):  # an expanded object
        value = value.get("id", "")
    return value if event_type.startswith(("checkout.session.", "charge.")) else ""


def _order_by_public_id(value) -> Order | None:
    try:
        public_id = uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None
    return Order.unscoped.select_related("workspace", "package").filter(public_id=public_id).first()


def _order_for_session(session: dict) -> Order | None:
    metadata = session.get("metadata") or {}
    return _order_by_public_id(metadata.get("order_id") or session.get("client_reference_id"))


def _order_for_charge(obj: dict, payment_intent_id: str) -> Order | None:
    order = _order_by_public_id((obj.get("metadata") or {}).get("order_id"))
    if order is None and payment_intent_id:
        order = (
            Order.unscoped.select_related("workspace", "package")
            .filter(payment_intent_id=payment_intent_id)
            .first()
        )
    return order


def _lock_payment_intent(payment_intent_id: str) -> None:
    """Serialise the events of one payment intent until the transaction ends: without it, a
    refund arriving during its own payment's processing could be deferred unseen (each would
    look before the other committed). SQLite serialises writers already."""
    if payment_intent_id and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [payment_intent_id])


# --- Handlers: return the status to store (PROCESSED unless said otherwise) ------------------


def _session_paid(event: StripeEvent, session: dict) -> str:
    order = _order_for_session(session)
    if order is None:
        event.error = "no order for this checkout session"
        return Status.IGNORED
    payment_intent_id = _payment_intent_of(event.type, session)
    _lock_payment_intent(payment_intent_id)
    services.order_record_payment_intent(
        order=order, payment_intent_id=payment_intent_id, session_id=session.get("id", "")
    )
    if payment_intent_id:
        _apply_deferred(payment_intent_id)
    if session.get("payment_status") != "paid":
        services.order_mark_awaiting_payment(order=order)
        return Status.PROCESSED
    try:
        services.order_mark_paid(
            order=order,
            amount=session.get("amount_total") or 0,
            currency=session.get("currency") or "",
            payment_intent_id=payment_intent_id,
        )
    except services.PaymentMismatch as exc:
        logger.error("Stripe event %s: %s (order %s)", event.stripe_id, exc, order.pk)
        event.error = f"amount mismatch: {exc}"
        return Status.FAILED
    return Status.PROCESSED


def _session_payment_failed(event: StripeEvent, session: dict) -> str:
    order = _order_for_session(session)
    if order is None:
        event.error = "no order for this checkout session"
        return Status.IGNORED
    services.order_payment_failed(order=order)
    return Status.PROCESSED


def _session_expired(event: StripeEvent, session: dict) -> str:
    order = _order_for_session(session)
    if order is not None:
        services.order_checkout_expired(order=order, session_id=session.get("id", ""))
    return Status.PROCESSED


def _charge_refunded(event: StripeEvent, charge: dict) -> str:
    _lock_payment_intent(event.payment_intent_id)
    order = _order_for_charge(charge, event.payment_intent_id)
    if order is None:
        return Status.DEFERRED
    amount = charge.get("amount_refunded") or 0
    if charge.get("refunded") or amount >= order.amount:
        services.order_mark_refunded(order=order, amount=amount, reference=charge.get("id", ""))
    else:
        services.order_record_partial_refund(order=order, amount=amount)
    return Status.PROCESSED


def _dispute_created(event: StripeEvent, dispute: dict) -> str:
    _lock_payment_intent(event.payment_intent_id)
    order = _order_for_charge(dispute, event.payment_intent_id)
    if order is None:
        return Status.DEFERRED
    services.order_mark_disputed(order=order)
    return Status.PROCESSED


def _dispute_closed(event: StripeEvent, dispute: dict) -> str:
    _lock_payment_intent(event.payment_intent_id)
    order = _order_for_charge(dispute, event.payment_intent_id)
    if order is None:
        return Status.DEFERRED
    services.order_dispute_closed(order=order, won=dispute.get("status") == "won")
    return Status.PROCESSED


HANDLERS: dict[str, Callable[[StripeEvent, dict], str]] = {
    "checkout.session.completed": _session_paid,
    "checkout.session.async_payment_succeeded": _session_paid,
    "checkout.session.async_payment_failed": _session_payment_failed,
    "checkout.session.expired": _session_expired,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
}


def _run(event: StripeEvent) -> None:
    handler = HANDLERS.get(event.type)
    event.status = Status.IGNORED if handler is None else handler(event, _obj(event))
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "error", "processed_at"])


def _apply_deferred(payment_intent_id: str) -> None:
    """Apply refunds/disputes that arrived before their payment, oldest first (inside the
    completed event's transaction; the payment intent is already on the order)."""
    deferred = (
        StripeEvent.objects.select_for_update()
        .filter(payment_intent_id=payment_intent_id, status=Status.DEFERRED)
        .order_by("payload__created", "pk")
    )
    for event in deferred:
        _run(event)


# --- Entry points -----------------------------------------------------------------------------


def stripe_event_store(*, event: dict) -> bool:
    """Store the event once. True when this call stored it."""
    obj = (event.get("data") or {}).get("object") or {}
    try:
        with transaction.atomic():
            StripeEvent.objects.create(
                stripe_id=event["id"],
                type=event["type"],
                payload=event,
                livemode=bool(event.get("livemode")),
                payment_intent_id=_payment_intent_of(event["type"], obj),
            )
    except IntegrityError:
        return False  # already stored: a redelivery or a concurrent delivery
    return True


def stripe_event_process(*, stripe_id: str) -> StripeEvent:
    """Process a stored event exactly once (see the module docstring)."""
    try:
        with transaction.atomic():
            event = StripeEvent.objects.select_for_update().get(stripe_id=stripe_id)
            if event.status in (Status.RECEIVED, Status.FAILED) and not event.processed_at:
                event.error = ""
                _run(event)
            return event
    except Exception as exc:
        # Everything the handler did is rolled back; note why for support, then let the caller
        # answer 500 so Stripe retries.
        StripeEvent.objects.filter(stripe_id=stripe_id, processed_at__isnull=True).update(
            status=Status.FAILED, error=f"{type(exc).__name__} while processing; will retry"
        )
        raise


def stripe_events_retry_deferred() -> int:
    """Apply deferred events whose payment is now known (a safety net run by reconciliation).
    Returns how many were applied."""
    applied = 0
    deferred = StripeEvent.objects.filter(status=Status.DEFERRED).exclude(payment_intent_id="")
    for stripe_id, payment_intent_id in deferred.values_list("stripe_id", "payment_intent_id"):
        if not Order.unscoped.filter(payment_intent_id=payment_intent_id).exists():
            continue
        with transaction.atomic():
            event = StripeEvent.objects.select_for_update().get(stripe_id=stripe_id)
            if event.status == Status.DEFERRED:
                _run(event)
                applied += event.status != Status.DEFERRED
    return applied


def stripe_event_receive(*, event: dict) -> StripeEvent:
    stripe_event_store(event=event)
    return stripe_event_process(stripe_id=event["id"])


def stripe_reconcile(*, since: datetime, log=None) -> dict[str, int]:
    """Fetch the events Stripe lists since ``since`` (Stripe keeps 30 days) and process any we
    missed through the same path as the webhook, then apply refunds or disputes still waiting
    for a payment that is now known. Safe to run at any time, and twice at once."""
    events = list(stripe_gateway.events_since(created_gte=int(since.timestamp())))
    counts = {"listed": len(events), "new": 0, "processed_now": 0}
    for event in events:
        counts["new"] += stripe_event_store(event=event)
        before = (
            StripeEvent.objects.filter(stripe_id=event["id"])
            .values_list("processed_at", flat=True)
            .first()
        )
        stored = stripe_event_process(stripe_id=event["id"])
        if before is None and stored.processed_at is not None:
            counts["processed_now"] += 1
        if log is not None:
            log(f"{event['id']} {event['type']}: {stored.status}")
    counts["deferred_applied"] = stripe_events_retry_deferred()
    logger.info("stripe reconcile: %s", counts)
    return counts
