"""The only module that imports ``stripe``: Checkout Sessions, refunds, webhook verification and
the event list used by reconciliation.

Everything crossing this boundary is plain Python (dicts, str, int), so services and tests never
touch SDK objects. ``STRIPE_API_BASE`` points the SDK at another API host (a local server in
tests); every call that creates something carries an idempotency key derived from our ids.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)


class GatewayError(Exception):
    """Stripe could not be reached or refused the request. The message is safe to show."""


class InvalidWebhook(Exception):
    """The payload is not JSON, is unsigned, signed with another secret, or too old."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str
    expires_at: int | None


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def _client() -> stripe.StripeClient:
    base_addresses = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    # Retries are safe: every creating call carries an idempotency key.
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses=base_addresses, max_network_retries=2
    )


def checkout_session_create(
    *,
    order_public_id: str,
    product_name: str,
    unit_amount: int,
    currency: str,
    quantity: int,
    customer_email: str,
    success_url: str,
    cancel_url: str,
    idempotency_key: str,
) -> CheckoutSession:
    """Create a one-off payment Checkout Session for one order."""
    params = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": currency,
                    "unit_amount": unit_amount,
                    "product_data": {"name": product_name},
                },
                "quantity": quantity,
            }
        ],
        "client_reference_id": order_public_id,
        "metadata": {"order_id": order_public_id},
        # Copied onto the PaymentIntent so refunds and disputes can be traced to the order.
        "payment_intent_data": {"metadata": {"order_id": order_public_id}},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if customer_email:
        params["customer_email"] = customer_email
    try:
        session = _client().v1.checkout.sessions.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    except stripe.StripeError as exc:
        logger.warning("Stripe checkout failed for order %s: %s", order_public_id, type(exc))
        raise GatewayError(
            "We could not reach our payment provider. Please try again in a minute."
        ) from exc
    data = session.to_dict()
    return CheckoutSession(
        id=data["id"], url=data.get("url") or "", expires_at=data.get("expires_at")
    )


def refund_create(*, payment_intent_id: str, amount: int | None, idempotency_key: str) -> str:
    """Refund a payment (all of it when ``amount`` is None); returns the refund id. The order
    changes state when the ``charge.refunded`` webhook arrives, as for dashboard refunds."""
    params: dict = {"payment_intent": payment_intent_id}
    if amount is not None:
        params["amount"] = amount
    try:
        refund = _client().v1.refunds.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    except stripe.StripeError as exc:
        logger.warning("Stripe refund failed for %s: %s", payment_intent_id, type(exc))
        raise GatewayError("Stripe refused the refund; see the Stripe dashboard.") from exc
    return refund.id


def webhook_event(*, payload: bytes, signature_header: str) -> dict:
    """Verify the signature and its age (``construct_event``: 300 s tolerance) and return the
    event as a plain dict."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        # An empty secret would accept payloads "signed" by anyone with the empty key.
        raise InvalidWebhook("no webhook secret configured")
    try:
        stripe.Webhook.construct_event(payload, signature_header, settings.STRIPE_WEBHOOK_SECRET)
        event = json.loads(payload)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise InvalidWebhook(str(type(exc).__name__)) from exc
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise InvalidWebhook("not an event")
    return event


def events_since(*, created_gte: int) -> Iterator[dict]:
    """Every event Stripe still lists (it keeps 30 days) created at or after the timestamp,
    oldest first, as plain dicts."""
    try:
        listing = _client().v1.events.list(params={"created": {"gte": created_gte}, "limit": 100})
        events = [event.to_dict() for event in listing.auto_paging_iter()]
    except stripe.StripeError as exc:
        raise GatewayError(f"Stripe refused the event list: {type(exc).__name__}") from exc
    yield from sorted(events, key=lambda e: (e.get("created", 0), e["id"]))
