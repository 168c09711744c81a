"""Order emails (text + HTML), sent by the ``send_order_email`` actor on the default queue.

Kinds: ``paid`` (receipt), ``payment_failed``, ``delivered``, ``training_failed`` (to the
customer) and ``support_training_failed`` / ``support_generation_failed`` (to SUPPORT_EMAIL).
Support emails carry ids and links, never the customer's photos or personal details.
"""

from __future__ import annotations

from django.conf import settings

from apps.accounts.emails import absolute_url, send_templated_email
from apps.orders import selectors
from apps.orders.models import Order, Seat

CUSTOMER_TEMPLATES = {
    "paid": "order_paid",
    "payment_failed": "order_payment_failed",
    "delivered": "order_delivered",
    "training_failed": "order_training_failed",
}
SUPPORT_TEMPLATES = {
    "support_training_failed": ("order_support_alert", "training"),
    "support_generation_failed": ("order_support_alert", "generation"),
}


def order_email_send(*, order_id: int, kind: str, seat_id: int | None = None) -> bool:
    """Render and send one order email. False when there is no one to send it to."""
    order = Order.unscoped.select_related("package", "workspace", "buyer").filter(pk=order_id)
    order = order.first()
    if order is None:
        return False
    seat = Seat.unscoped.filter(pk=seat_id, order=order).first() if seat_id else None
    slug = order.workspace.slug
    context = {
        "order": order,
        "seat": seat,
        "order_url": absolute_url("orders:detail", workspace=slug, order=order.public_id),
        "gallery_url": absolute_url("orders:gallery", workspace=slug, order=order.public_id),
        "receipt_url": absolute_url("orders:receipt", workspace=slug, order=order.public_id),
    }
    if kind in SUPPORT_TEMPLATES:
        template, stage = SUPPORT_TEMPLATES[kind]
        context["stage"] = stage
        send_templated_email(to=settings.SUPPORT_EMAIL, template=template, context=context)
        return True
    if kind == "seat_delivered":
        member = seat.member if seat is not None else None
        if member is None or not member.is_active:
            return False
        context["member"] = member
        context["image_count"] = selectors.gallery_images(order=order, seats=[seat]).count()
        send_templated_email(to=member.email, template="seat_delivered", context=context)
        return True
    if kind not in CUSTOMER_TEMPLATES:
        raise ValueError(f"unknown order email {kind!r}")
    buyer = order.buyer
    if buyer is None or not buyer.is_active or order.anonymised_at is not None:
        return False  # an erased or deactivated customer gets no mail
    if kind == "delivered":
        seats = list(Seat.unscoped.filter(order=order))
        context["image_count"] = selectors.gallery_images(order=order, seats=seats).count()
        context["held_count"] = selectors.held_images_count(order=order, seats=seats)
    context["buyer"] = buyer
    send_templated_email(to=buyer.email, template=CUSTOMER_TEMPLATES[kind], context=context)
    return True
