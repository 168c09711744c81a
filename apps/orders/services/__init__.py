"""Writes for orders, one module per concern, re-exported here: creation and seats
(``seats``), checkout and payment state — paid, refunded, disputed, the append-only credit
ledger (``payments``), re-rolls, favourites and "download all" exports (``gallery``).

Every change of an order's money state goes through one function here, whichever door it came
in by (webhook, reconciliation, the local test checkout, a support action), with the order row
locked (``select_for_update``) so concurrent deliveries serialise. The rules for events arriving
in any order are written down in ``apps/orders/webhooks.py``; the pipeline from payment to
delivery lives in ``apps/orders/orchestration.py``.

Policies (why they are what they are):

- **Refund** (full): the order becomes REFUNDED, unfinished seats are cancelled and their GPU
  jobs stopped, remaining re-roll credits are cleared by a ledger ``refund`` entry, and gallery
  downloads are disabled — the customer got their money back, so they no longer get the
  product. Generated files stay until their retention clock (support may need them). A partial
  refund (a goodwill gesture) only records the amount; nothing stops.
- **Dispute**: DISPUTED, pipeline stopped like a refund, downloads disabled while the dispute is
  open (handing out more of the product while the bank decides is giving it away). A dispute
  we win restores downloads (DELIVERED) or, if it interrupted the pipeline, leaves the order
  FAILED for support to re-run; a lost dispute keeps it DISPUTED. A refund always wins over a
  dispute: REFUNDED is terminal.
- **Credits**: the purchase entry (+credits per seat) is written when the payment is recorded,
  unless the order was already refunded by then. Re-rolls write -1 with the new job's public id
  as reference; the balance is the sum of the rows, read with the order row locked.
"""

from apps.orders.services.gallery import (
    order_reroll,
    portrait_favourite_set,
    zip_export_build,
    zip_export_request,
    zip_exports_purge_expired,
)
from apps.orders.services.payments import (
    UNPAID,
    PaymentMismatch,
    checkout_mode,
    order_checkout_expired,
    order_checkout_start,
    order_dispute_closed,
    order_mark_awaiting_payment,
    order_mark_disputed,
    order_mark_paid,
    order_mark_refunded,
    order_payment_failed,
    order_record_partial_refund,
    order_record_payment_intent,
    order_refund_request,
    order_test_checkout_complete,
)
from apps.orders.services.seats import (
    order_create,
    seat_assign,
    seats_claim_for_member,
    workspace_team_styles_set,
)

__all__ = [
    "UNPAID",
    "PaymentMismatch",
    "checkout_mode",
    "order_checkout_expired",
    "order_checkout_start",
    "order_create",
    "order_dispute_closed",
    "order_mark_awaiting_payment",
    "order_mark_disputed",
    "order_mark_paid",
    "order_mark_refunded",
    "order_payment_failed",
    "order_record_partial_refund",
    "order_record_payment_intent",
    "order_refund_request",
    "order_reroll",
    "order_test_checkout_complete",
    "portrait_favourite_set",
    "seat_assign",
    "seats_claim_for_member",
    "workspace_team_styles_set",
    "zip_export_build",
    "zip_export_request",
    "zip_exports_purge_expired",
]
