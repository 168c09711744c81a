"""Checkout and payment state: paid, failed, refunded, disputed (see the package docstring
for the policies and apps/orders/webhooks.py for the order-of-arrival rules)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import audit_record
from apps.orders import orchestration, selectors, stripe_gateway
from apps.orders.models import CreditLedger, Order
from config.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)


def _audit_from_stripe(order: Order, action: str, details: dict | None = None) -> None:
    """An order change that Stripe told us about (a webhook or reconciliation): no user actor."""
    audit_record(
        actor=None,
        actor_kind="stripe",
        action=action,
        workspace=order.workspace,
        target_type="order",
        target_ids=[order.public_id],
        details=details,
    )


UNPAID = (Order.Status.DRAFT, Order.Status.AWAITING_PAYMENT)


def lock_order(order: Order) -> Order:
    """The order row, locked until the transaction ends: every money change holds it."""
    return Order.unscoped.select_for_update().select_related("package").get(pk=order.pk)


# --- Checkout ---------------------------------------------------------------------------------


def checkout_mode() -> str | None:
    """Which checkout to use: "stripe" with keys; "test" (the local test checkout) without
    keys when DEBUG is on; None otherwise."""
    if stripe_gateway.is_configured():
        return "stripe"
    if settings.DEBUG:
        return "test"
    return None


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def order_checkout_start(*, order: Order, actor: User) -> str:
    """Return the URL to send the buyer to: Stripe Checkout (an open session is reused), or the
    local test checkout. The Stripe call happens with the order row locked, so a double click
    cannot create two sessions; its idempotency key makes a retried call return the same one."""
    mode = checkout_mode()
    if mode is None:
        raise ValidationError("Payments are not set up on this site yet. Please contact support.")
    with transaction.atomic():
        order = lock_order(order)
        if order.status not in UNPAID:
            raise ValidationError("This order does not need paying.")
        detail = reverse(
            "orders:detail", kwargs={"workspace": order.workspace.slug, "order": order.public_id}
        )
        if mode == "test":
            url = reverse(
                "orders:test_checkout",
                kwargs={"workspace": order.workspace.slug, "order": order.public_id},
            )
        elif (
            order.checkout_url
            and order.checkout_expires_at
            and order.checkout_expires_at > timezone.now() + timedelta(minutes=5)
        ):
            return order.checkout_url
        else:
            attempt = order.checkout_attempts + 1
            session = stripe_gateway.checkout_session_create(
                order_public_id=str(order.public_id),
                product_name=f"Likeness {order.package.name}",
                # The order's own price (set when it was made): a later catalogue change
                # must not change what this customer is charged, nor fail the amount check.
                unit_amount=order.amount // order.seats,
                currency=order.currency,
                quantity=order.seats,
                customer_email=order.buyer.email if order.buyer else "",
                success_url=_absolute(detail) + "?checkout=success",
                cancel_url=_absolute(detail) + "?checkout=cancelled",
                idempotency_key=f"checkout-{order.public_id}-{attempt}",
            )
            order.checkout_attempts = attempt
            order.checkout_session_id = session.id
            order.checkout_url = session.url
            order.checkout_expires_at = (
                datetime.fromtimestamp(session.expires_at, tz=UTC) if session.expires_at else None
            )
            url = session.url
        order.status = Order.Status.AWAITING_PAYMENT
        order.save(
            update_fields=[
                "status",
                "checkout_attempts",
                "checkout_session_id",
                "checkout_url",
                "checkout_expires_at",
            ]
        )
        audit_record(
            actor=actor,
            action="order.checkout_start",
            workspace=order.workspace,
            target_type="order",
            target_ids=[order.public_id],
            details={"mode": mode, "attempt": order.checkout_attempts},
        )
    return url


def order_test_checkout_complete(*, order: Order, actor: User) -> bool:
    """The local test checkout (DEBUG, no Stripe keys): pays through ``order_mark_paid``, the
    same service the webhook uses."""
    if checkout_mode() != "test":
        raise ValidationError("The test checkout is only available in development.")
    return order_mark_paid(
        order=order,
        amount=order.amount,
        currency=order.currency,
        payment_intent_id="",
        actor=actor,
        actor_kind="user",
    )


# --- Payment state ----------------------------------------------------------------------------


class PaymentMismatch(Exception):
    """Stripe reports a payment whose amount or currency is not the order's."""


@transaction.atomic
def order_record_payment_intent(*, order: Order, payment_intent_id: str, session_id: str) -> None:
    """Remember which Stripe payment belongs to the order (before anything else is applied), so
    refunds and disputes that name only the payment intent can find it."""
    if payment_intent_id:
        # The first payment stays the order's; a second one is flagged by order_mark_paid.
        Order.unscoped.filter(pk=order.pk, payment_intent_id="").update(
            payment_intent_id=payment_intent_id
        )
    if session_id:
        Order.unscoped.filter(pk=order.pk).update(checkout_session_id=session_id)


@transaction.atomic
def order_mark_awaiting_payment(*, order: Order) -> None:
    """Checkout completed with a delayed payment method (bank debit): wait for
    async_payment_succeeded or _failed."""
    Order.unscoped.filter(pk=order.pk, status=Order.Status.DRAFT).update(
        status=Order.Status.AWAITING_PAYMENT
    )


@transaction.atomic
def order_mark_paid(
    *,
    order: Order,
    amount: int,
    currency: str,
    payment_intent_id: str = "",
    actor: User | None = None,
    actor_kind: str = "stripe",
) -> bool:
    """Record the payment once: PAID, purchase credits, receipt email, then start every seat
    whose photos are ready. False when the payment was already recorded. An order refunded or
    disputed before its payment was processed records the payment and starts nothing."""
    order = lock_order(order)
    if amount != order.amount or currency.lower() != order.currency.lower():
        raise PaymentMismatch(f"paid {amount} {currency}, order is {order.amount} {order.currency}")
    if order.paid_at is not None:
        if payment_intent_id and payment_intent_id != order.payment_intent_id:
            # Paid twice (two checkout sessions): support refunds the second payment.
            logger.error("order %s paid twice (second payment %s)", order.pk, payment_intent_id)
            _audit_from_stripe(
                order,
                "order.duplicate_payment",
                {"payment_intent": payment_intent_id, "amount": amount},
            )
        return False
    now = timezone.now()
    order.paid_at = now
    if payment_intent_id:
        order.payment_intent_id = payment_intent_id
    if order.status in UNPAID:
        order.status = Order.Status.PAID
    order.checkout_url = ""
    order.save(update_fields=["paid_at", "payment_intent_id", "status", "checkout_url"])
    if order.refunded_at is None:
        CreditLedger.unscoped.create(
            workspace_id=order.workspace_id,
            order=order,
            kind=CreditLedger.Kind.PURCHASE,
            credits=order.package.reroll_credits * order.seats,
            reference=payment_intent_id or f"order-{order.public_id}",
            actor_id=actor.pk if actor else None,
        )
    audit_record(
        actor=actor,
        actor_kind=actor_kind,
        action="order.paid",
        workspace=order.workspace,
        target_type="order",
        target_ids=[order.public_id],
        details={"amount": amount, "currency": order.currency},
    )
    enqueue_on_commit("send_order_email", order.pk, "paid")
    if order.status == Order.Status.PAID:
        orchestration.order_start_ready_seats(order=order)
    return True


@transaction.atomic
def order_payment_failed(*, order: Order) -> bool:
    """A delayed payment failed: back to waiting for payment (the customer can pay again from
    the order page), one email. No training is started."""
    updated = Order.unscoped.filter(pk=order.pk, paid_at__isnull=True, status__in=UNPAID).update(
        status=Order.Status.AWAITING_PAYMENT, checkout_url="", checkout_expires_at=None
    )
    if updated:
        _audit_from_stripe(order, "order.payment_failed")
        enqueue_on_commit("send_order_email", order.pk, "payment_failed")
    return bool(updated)


@transaction.atomic
def order_checkout_expired(*, order: Order, session_id: str) -> None:
    Order.unscoped.filter(pk=order.pk, checkout_session_id=session_id).update(
        checkout_url="", checkout_expires_at=None
    )


@transaction.atomic
def order_mark_refunded(
    *, order: Order, amount: int, reference: str, actor: User | None = None
) -> bool:
    """A full refund (see the policy above). Idempotent: False when already refunded."""
    order = lock_order(order)
    if order.refunded_at is not None:
        return False
    order.status = Order.Status.REFUNDED
    order.refunded_at = timezone.now()
    order.refunded_amount = max(order.refunded_amount, amount)
    order.checkout_url = ""
    order.save(update_fields=["status", "refunded_at", "refunded_amount", "checkout_url"])
    orchestration.order_stop_pipeline(order=order)
    balance = selectors.credit_balance(order=order)
    try:
        with transaction.atomic():
            CreditLedger.unscoped.create(
                workspace_id=order.workspace_id,
                order=order,
                kind=CreditLedger.Kind.REFUND,
                credits=-balance,
                reference=reference,
                actor_id=actor.pk if actor else None,
            )
    except IntegrityError:
        pass  # this refund's entry is already written
    audit_record(
        actor=actor,
        actor_kind=None if actor else "stripe",
        action="order.refunded",
        workspace=order.workspace,
        target_type="order",
        target_ids=[order.public_id],
        details={"amount": amount, "credits_cleared": balance},
    )
    return True


@transaction.atomic
def order_record_partial_refund(*, order: Order, amount: int) -> None:
    order = lock_order(order)
    if amount > order.refunded_amount:
        order.refunded_amount = amount
        order.save(update_fields=["refunded_amount"])
        _audit_from_stripe(order, "order.partially_refunded", {"amount": amount})


@transaction.atomic
def order_mark_disputed(*, order: Order) -> bool:
    order = lock_order(order)
    if order.disputed_at is not None:
        return False
    order.disputed_at = timezone.now()
    fields = ["disputed_at"]
    if order.status != Order.Status.REFUNDED:
        order.status = Order.Status.DISPUTED
        fields.append("status")
    order.save(update_fields=fields)
    orchestration.order_stop_pipeline(order=order)
    _audit_from_stripe(order, "order.disputed")
    return True


@transaction.atomic
def order_dispute_closed(*, order: Order, won: bool) -> None:
    order = lock_order(order)
    if won and order.status == Order.Status.DISPUTED:
        order.status = Order.Status.DELIVERED if order.delivered_at else Order.Status.FAILED
        order.save(update_fields=["status"])
    _audit_from_stripe(order, "order.dispute_closed", {"won": won})


def order_refund_request(*, order: Order, actor: User) -> None:
    """Support refunds an order in full. With Stripe the order changes when the
    ``charge.refunded`` webhook arrives (as for refunds made in the Stripe dashboard); a
    test-checkout order has no Stripe payment and is marked refunded at once."""
    if order.paid_at is None:
        raise ValidationError("This order was never paid; there is nothing to refund.")
    if order.refunded_at is not None:
        raise ValidationError("This order is already refunded.")
    audit_record(
        actor=actor,
        action="order.refund_requested",
        workspace=order.workspace,
        target_type="order",
        target_ids=[order.public_id],
        details={"amount": order.amount},
    )
    if order.payment_intent_id:
        stripe_gateway.refund_create(
            payment_intent_id=order.payment_intent_id,
            amount=None,
            idempotency_key=f"refund-{order.public_id}",
        )
    else:
        order_mark_refunded(
            order=order, amount=order.amount, reference=f"manual-{order.public_id}", actor=actor
        )
