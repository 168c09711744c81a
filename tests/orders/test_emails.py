"""Order emails: text and HTML from templates, to the right person, with working links."""

from __future__ import annotations

import pytest
from django.core import mail

from apps.orders import emails
from apps.orders.models import Order
from tests.factories import GeneratedImageFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "subject", "link"),
    [
        ("paid", "Your Likeness receipt: $29.00", "/receipt/"),
        ("payment_failed", "Your Likeness payment did not go through", "/orders/"),
        ("delivered", "Your portraits are ready", "/gallery/"),
        ("training_failed", "We hit a problem with your portraits", "/orders/"),
    ],
)
def test_customer_emails(make_order, settings, kind, subject, link):
    settings.SITE_URL = "https://likeness.example"
    order = make_order()
    Order.unscoped.filter(pk=order.pk).update(paid_at=order.created_at)
    seat = order.seat_set.get()
    GeneratedImageFactory(subject=seat.subject)
    GeneratedImageFactory(subject=seat.subject, moderation_status="held")

    assert emails.order_email_send(order_id=order.pk, kind=kind, seat_id=seat.pk) is True

    [message] = mail.outbox
    assert message.to == [order.buyer.email]
    assert message.subject.startswith(subject)
    assert f"https://likeness.example/w/{order.workspace.slug}/orders/" in message.body
    assert link in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and link in html
    assert "&amp;" not in message.body  # plain text is not HTML-escaped
    if kind == "delivered":
        assert "1 portrait waiting" in message.body and "1 more" in message.body


def test_support_alert_carries_ids_not_personal_data(make_order, settings):
    order = make_order()
    seat = order.seat_set.get()
    emails.order_email_send(order_id=order.pk, kind="support_generation_failed", seat_id=seat.pk)
    [message] = mail.outbox
    assert message.to == [settings.SUPPORT_EMAIL]
    assert str(order.public_id) in message.subject and "generation" in message.subject
    assert order.buyer.email not in message.body and seat.subject.display_name not in message.body


def test_no_email_for_an_erased_customer(make_order):
    order = make_order()
    Order.unscoped.filter(pk=order.pk).update(buyer=None)
    assert emails.order_email_send(order_id=order.pk, kind="delivered") is False
    assert mail.outbox == []
