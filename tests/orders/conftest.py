"""Fixtures for the orders tests: real signed Stripe webhook payloads, Stripe-format event
builders, and paid-ready orders whose subject has accepted photos (rows from factories; the
photo checks have their own tests)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable

import pytest
from django.conf import settings
from django.urls import reverse

from apps.orders.models import Order
from tests.factories import (
    BaseModelFactory,
    OrderFactory,
    PackageFactory,
    PhotoFactory,
    SeatFactory,
    StyleFactory,
    WorkspaceFactory,
    member_of,
)

# The ML tests' tiny-model fixtures, for the whole-pipeline test (test_pipeline.py).
from tests.models.conftest import tiny_base, tiny_model_dirs  # noqa: F401

WEBHOOK_SECRET = "whsec_test_secret_for_signatures"


def stripe_signature(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """The Stripe-Signature header Stripe would send: t=<ts>,v1=HMAC-SHA256(secret, "t.payload")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event(event_type: str, obj: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{secrets.token_hex(8)}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": obj},
    }


def session_event(
    order: Order,
    *,
    event_type: str = "checkout.session.completed",
    payment_status: str = "paid",
    payment_intent: str = "pi_test_1",
    amount: int | None = None,
    currency: str | None = None,
    event_id: str | None = None,
) -> dict:
    return event(
        event_type,
        {
            "id": f"cs_test_{order.public_id.hex[:12]}",
            "object": "checkout.session",
            "mode": "payment",
            "status": "complete",
            "payment_status": payment_status,
            "amount_total": order.amount if amount is None else amount,
            "currency": currency or order.currency,
            "client_reference_id": str(order.public_id),
            "metadata": {"order_id": str(order.public_id)},
            "payment_intent": payment_intent,
            "customer_email": order.buyer.email if order.buyer else None,
        },
        event_id=event_id,
    )


def refund_event(
    order: Order,
    *,
    payment_intent: str = "pi_test_1",
    amount: int | None = None,
    with_metadata: bool = True,
) -> dict:
    refunded = order.amount if amount is None else amount
    return event(
        "charge.refunded",
        {
            "id": "ch_test_1",
            "object": "charge",
            "amount": order.amount,
            "amount_refunded": refunded,
            "currency": order.currency,
            "refunded": refunded >= order.amount,
            "payment_intent": payment_intent,
            "metadata": {"order_id": str(order.public_id)} if with_metadata else {},
        },
    )


def dispute_event(
    order: Order,
    *,
    payment_intent: str = "pi_test_1",
    event_type: str = "charge.dispute.created",
    status: str = "needs_response",
) -> dict:
    return event(
        event_type,
        {
            "id": "dp_test_1",
            "object": "dispute",
            "amount": order.amount,
            "currency": order.currency,
            "charge": "ch_test_1",
            "payment_intent": payment_intent,
            "reason": "fraudulent",
            "status": status,
            "metadata": {},
        },
    )


@pytest.fixture
def webhook_secret(settings) -> str:
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return WEBHOOK_SECRET


@pytest.fixture
def post_event(webhook_secret) -> Callable:
    """POST an event to the webhook the way Stripe does (raw JSON body, signed header)."""

    def post(client, payload: dict | bytes, *, secret: str = WEBHOOK_SECRET, timestamp=None):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return client.post(
            reverse("orders:stripe_webhook"),
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=stripe_signature(body, secret, timestamp),
        )

    return post


@pytest.fixture
def base_model(db):
    """A default base model row, so training jobs can be created (nothing trains here)."""
    return BaseModelFactory(name="test-default", is_default=True)


@pytest.fixture
def styles(db):
    return [
        StyleFactory(slug=f"order-style-{n}", name=f"Style {n}", sort_order=n) for n in range(4)
    ]


def add_photos(subject, count: int | None = None) -> None:
    count = settings.PHOTO_MIN_PER_SUBJECT if count is None else count
    for _ in range(count):
        PhotoFactory(subject=subject)


@pytest.fixture
def make_order(db, styles, base_model) -> Callable:
    """make_order(seats=1, photos=True): an unpaid order of a 40-image, 4-style package whose
    seats' subjects have enough accepted photos (``photos=False``: none)."""

    def make(*, seats: int = 1, photos: bool = True, workspace=None, **package_fields):
        workspace = workspace or WorkspaceFactory()
        buyer = member_of(workspace, role="owner")
        package = PackageFactory(per_seat=seats > 1, **package_fields)
        order = OrderFactory(
            workspace=workspace, buyer=buyer, package=package, seats=seats, styles=styles
        )
        for _ in range(seats):
            seat = SeatFactory(order=order)
            if photos:
                add_photos(seat.subject)
        return order

    return make
