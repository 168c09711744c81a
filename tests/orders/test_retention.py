"""Retention as the customer meets it: a re-roll of an expired (purged) personal model is refused
in plain words with no credit spent, and the gallery says until when portraits are kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from apps.models import services as ml_services
from apps.models.models import GenerationJob
from apps.orders import services
from apps.orders.models import CreditLedger, Order, Seat
from apps.orders.selectors import credit_balance
from apps.photos.models import GeneratedImage
from tests.factories import GeneratedImageFactory, LoraAdapterFactory

pytestmark = pytest.mark.django_db

EXPIRED = (
    "Your personal model has expired under our retention policy; start a new order to train a "
    "new one."
)


def delivered(make_order) -> tuple[Order, Seat]:
    order = make_order()
    Order.unscoped.filter(pk=order.pk).update(
        status=Order.Status.DELIVERED, paid_at=order.created_at, delivered_at=order.created_at
    )
    order.refresh_from_db()
    CreditLedger.unscoped.create(
        workspace=order.workspace, order=order, kind="purchase", credits=2, reference="pi_1"
    )
    seat = order.seat_set.get()
    Seat.unscoped.filter(pk=seat.pk).update(status=Seat.Status.DELIVERED)
    return order, seat


def test_reroll_of_a_purged_adapter_is_refused_and_spends_nothing(make_order, styles, client):
    order, seat = delivered(make_order)
    LoraAdapterFactory(
        subject=seat.subject,
        workspace=order.workspace,
        purge_after=timezone.now() - timedelta(days=1),
    )
    assert ml_services.adapters_purge_expired()["adapters"] == 1

    with pytest.raises(ValidationError) as caught:
        services.order_reroll(order=order, seat=seat, style=styles[0], actor=order.buyer)
    assert caught.value.messages == [EXPIRED]

    # Through the page: the message, a redirect to the gallery, no 500.
    client.force_login(order.buyer)
    gallery = reverse(
        "orders:gallery", kwargs={"workspace": order.workspace.slug, "order": order.public_id}
    )
    response = client.post(
        reverse(
            "orders:reroll", kwargs={"workspace": order.workspace.slug, "order": order.public_id}
        ),
        {"seat": seat.public_id, "style": styles[0].slug},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == gallery
    assert "expired under our retention policy" in response.text
    assert credit_balance(order=order) == 2
    assert not GenerationJob.unscoped.exists()
    assert not CreditLedger.unscoped.filter(kind=CreditLedger.Kind.REROLL).exists()


def test_gallery_says_until_when_portraits_are_kept(make_order, client):
    order, seat = delivered(make_order)
    soon = timezone.now() + timedelta(days=30)
    GeneratedImageFactory(subject=seat.subject, purge_after=soon + timedelta(days=5))
    GeneratedImageFactory(subject=seat.subject, purge_after=soon)
    # Not visible to the customer: its earlier date is not the one they are told.
    GeneratedImageFactory(
        subject=seat.subject,
        purge_after=soon - timedelta(days=20),
        moderation_status=GeneratedImage.Moderation.HELD,
    )
    client.force_login(order.buyer)

    page = client.get(
        reverse(
            "orders:gallery", kwargs={"workspace": order.workspace.slug, "order": order.public_id}
        )
    ).text

    local = timezone.localtime(soon)
    assert (
        f"Portraits are kept until {local.day} {local:%B} {local.year}; download the ones you "
        "want to keep."
    ) in page
