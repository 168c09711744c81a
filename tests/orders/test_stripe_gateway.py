"""The Stripe SDK pointed (STRIPE_API_BASE) at a local HTTP server on loopback that answers in
Stripe's format: what the SDK sends is recorded and asserted exactly."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.orders import services, stripe_gateway
from apps.orders.models import Order, Package, StripeEvent
from tests.orders.conftest import session_event

pytestmark = pytest.mark.django_db


class FakeStripe(BaseHTTPRequestHandler):
    """Records every request; answers from ``server.responses[(method, path)]``."""

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urlsplit(self.path)
        self.server.requests.append(
            {
                "method": method,
                "path": url.path,
                "query": parse_qs(url.query),
                "form": parse_qs(body),
                "headers": dict(self.headers),
            }
        )
        status, payload = self.server.responses.get((method, url.path), (404, {"error": {}}))
        if callable(payload):
            payload = payload(self.server.requests[-1])
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", "req_test")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self._answer("GET")

    def do_POST(self):  # noqa: N802
        self._answer("POST")

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_stripe(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeStripe)
    server.requests, server.responses = [], {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_port}"
    settings.SITE_URL = "https://likeness.example"
    yield server
    server.shutdown()
    server.server_close()


def checkout_session(request: dict) -> dict:
    """A checkout.session object as Stripe returns it for the request it was given."""
    form = request["form"]
    return {
        "id": "cs_test_a1b2c3",
        "object": "checkout.session",
        "mode": "payment",
        "status": "open",
        "payment_status": "unpaid",
        "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3",
        "expires_at": int(time.time()) + 24 * 3600,
        "client_reference_id": form["client_reference_id"][0],
        "metadata": {"order_id": form["metadata[order_id]"][0]},
        "amount_total": int(form["line_items[0][price_data][unit_amount]"][0])
        * int(form["line_items[0][quantity]"][0]),
        "currency": form["line_items[0][price_data][currency]"][0],
    }


def test_checkout_sends_exactly_this_request_and_redirects_to_stripe(
    client, fake_stripe, make_order
):
    fake_stripe.responses[("POST", "/v1/checkout/sessions")] = (200, checkout_session)
    order = make_order(seats=3, price_amount=3900)
    client.force_login(order.buyer)
    url = reverse(
        "orders:checkout", kwargs={"workspace": order.workspace.slug, "order": order.public_id}
    )

    response = client.post(url)

    assert response.status_code == 302
    assert response["Location"] == "https://checkout.stripe.com/c/pay/cs_test_a1b2c3"
    [sent] = fake_stripe.requests
    assert (sent["method"], sent["path"]) == ("POST", "/v1/checkout/sessions")
    order_id = str(order.public_id)
    detail = f"https://likeness.example/w/{order.workspace.slug}/orders/{order_id}/"
    assert sent["form"] == {
        "mode": ["payment"],
        "line_items[0][price_data][currency]": ["usd"],
        "line_items[0][price_data][unit_amount]": ["3900"],
        "line_items[0][price_data][product_data][name]": [f"Likeness {order.package.name}"],
        "line_items[0][quantity]": ["3"],
        "client_reference_id": [order_id],
        "metadata[order_id]": [order_id],
        "payment_intent_data[metadata][order_id]": [order_id],
        "success_url": [detail + "?checkout=success"],
        "cancel_url": [detail + "?checkout=cancelled"],
        "customer_email": [order.buyer.email],
    }
    assert sent["headers"]["Idempotency-Key"] == f"checkout-{order_id}-1"
    assert sent["headers"]["Authorization"] == "Bearer sk_test_local"
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert (order.checkout_session_id, order.checkout_attempts) == ("cs_test_a1b2c3", 1)

    # A second click while the session is open goes back to it without asking Stripe again.
    assert client.post(url)["Location"] == "https://checkout.stripe.com/c/pay/cs_test_a1b2c3"
    assert len(fake_stripe.requests) == 1


def test_an_expired_session_makes_a_new_attempt_with_a_new_key(fake_stripe, make_order):
    fake_stripe.responses[("POST", "/v1/checkout/sessions")] = (200, checkout_session)
    order = make_order()
    services.order_checkout_start(order=order, actor=order.buyer)
    Order.unscoped.filter(pk=order.pk).update(checkout_expires_at=order.created_at)
    services.order_checkout_start(order=order, actor=order.buyer)
    keys = [r["headers"]["Idempotency-Key"] for r in fake_stripe.requests]
    assert keys == [f"checkout-{order.public_id}-1", f"checkout-{order.public_id}-2"]


def test_stripe_refusing_shows_a_plain_message_not_a_500(client, fake_stripe, make_order):
    fake_stripe.responses[("POST", "/v1/checkout/sessions")] = (
        400,
        {"error": {"type": "invalid_request_error", "message": "No such currency"}},
    )
    order = make_order()
    client.force_login(order.buyer)
    response = client.post(
        reverse(
            "orders:checkout", kwargs={"workspace": order.workspace.slug, "order": order.public_id}
        ),
        follow=True,
    )
    assert response.status_code == 200
    assert b"could not reach our payment provider" in response.content
    order.refresh_from_db()
    assert order.status == Order.Status.DRAFT and order.checkout_session_id is None


def test_refund_request_asks_stripe_with_an_idempotency_key(fake_stripe, make_order):
    fake_stripe.responses[("POST", "/v1/refunds")] = (
        200,
        {"id": "re_test_1", "object": "refund", "status": "succeeded"},
    )
    order = make_order()
    Order.unscoped.filter(pk=order.pk).update(paid_at=order.created_at, payment_intent_id="pi_9")
    order.refresh_from_db()
    services.order_refund_request(order=order, actor=order.buyer)
    [sent] = fake_stripe.requests
    assert sent["path"] == "/v1/refunds" and sent["form"] == {"payment_intent": ["pi_9"]}
    assert sent["headers"]["Idempotency-Key"] == f"refund-{order.public_id}"
    order.refresh_from_db()
    assert order.refunded_at is None  # the charge.refunded webhook does that


def test_reconcile_processes_missed_events_through_the_webhook_path(
    fake_stripe, make_order, sent_nothing
):
    order = make_order()
    missed = session_event(order)
    already = session_event(make_order(), event_id="evt_already_here")
    from apps.orders.webhooks import stripe_event_receive

    stripe_event_receive(event=already)
    fake_stripe.responses[("GET", "/v1/events")] = (
        200,
        {"object": "list", "url": "/v1/events", "has_more": False, "data": [missed, already]},
    )

    call_command("stripe_reconcile", "--since", "2026-11-01")

    [listed] = fake_stripe.requests
    assert listed["query"]["created[gte]"] == ["1793491200"]  # 2026-11-01T00:00:00Z
    order.refresh_from_db()
    assert order.paid_at is not None and order.status == Order.Status.PROCESSING
    assert StripeEvent.objects.filter(status="processed").count() == 2
    call_command("stripe_reconcile", "--since", "2026-11-01")  # again: nothing changes
    assert StripeEvent.objects.count() == 2


@pytest.fixture
def sent_nothing(monkeypatch):
    monkeypatch.setattr("config.tasks.send_now", lambda *args, **kwargs: None)


def test_gateway_is_the_only_stripe_importer():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    importers = [
        str(path.relative_to(root))
        for folder in ("apps", "workers", "config")
        for path in (root / folder).rglob("*.py")
        if any(
            line.strip().startswith(("import stripe", "from stripe"))
            for line in path.read_text().splitlines()
        )
    ]
    assert importers == ["apps/orders/stripe_gateway.py"]
    assert stripe_gateway.is_configured() is False  # test settings: no keys


def test_checkout_charges_the_orders_own_price_after_a_catalogue_change(fake_stripe, make_order):
    fake_stripe.responses[("POST", "/v1/checkout/sessions")] = (200, checkout_session)
    order = make_order(seats=2, price_amount=3900)
    Package.objects.filter(pk=order.package_id).update(price_amount=4500)
    order.refresh_from_db()
    services.order_checkout_start(order=order, actor=order.buyer)
    [sent] = fake_stripe.requests
    assert sent["form"]["line_items[0][price_data][unit_amount]"] == ["3900"]
    assert sent["form"]["line_items[0][quantity]"] == ["2"]


@pytest.mark.django_db(transaction=True)
def test_hourly_reconcile_actor_processes_a_missed_payment(
    fake_stripe, make_order, sent_nothing, stub_broker, stub_worker
):
    order = make_order()
    fake_stripe.responses[("GET", "/v1/events")] = (
        200,
        {"object": "list", "url": "/v1/events", "has_more": False, "data": [session_event(order)]},
    )
    stub_broker.get_actor("reconcile_stripe_events").send()
    stub_broker.join("default")
    stub_worker.join()

    [listed] = fake_stripe.requests
    assert int(listed["query"]["created[gte]"][0]) < time.time() - 2 * 24 * 3600
    order.refresh_from_db()
    assert order.paid_at is not None
    assert StripeEvent.objects.filter(status="processed").count() == 1
