"""Concurrent deliveries against real PostgreSQL: five threads, each with its own connection,
deliver the same news at once; exactly one of everything comes out."""

from __future__ import annotations

import threading
from collections.abc import Callable

import dramatiq
import pytest
from django.core import mail
from django.db import connection
from django.test import Client

from apps.models.models import TrainingJob
from apps.orders import orchestration
from apps.orders.models import CreditLedger, Order, Seat, StripeEvent
from tests.orders.conftest import session_event

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 5


def run_at_once(work: Callable[[int], object], count: int = THREADS) -> list:
    """Run ``work(i)`` in ``count`` threads released together; return results or exceptions."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except Exception as exc:  # reported by the assertions below
            results[index] = exc
        finally:
            connection.close()  # each thread's own connection

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def drain_default_queue(broker) -> None:
    """Run what was sent to the default queue (emails) through a real worker."""
    worker = dramatiq.Worker(broker, queues={"default"}, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        broker.join("default", fail_fast=True, timeout=30_000)
        worker.join()
    finally:
        worker.stop()


def test_same_completed_event_five_times_at_once(post_event, make_order, stub_broker):
    order = make_order()
    payload = session_event(order)

    def deliver(_):
        client = Client(raise_request_exception=False)
        return post_event(client, payload).status_code

    codes = run_at_once(deliver)
    assert codes == [200] * THREADS, codes

    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING and order.paid_at is not None
    assert StripeEvent.objects.count() == 1
    assert TrainingJob.unscoped.count() == 1
    assert CreditLedger.unscoped.filter(order=order).count() == 1
    drain_default_queue(stub_broker)
    receipts = [m for m in mail.outbox if "receipt" in m.subject.lower()]
    assert len(receipts) == 1 and receipts[0].to == [order.buyer.email]
    assert receipts[0].alternatives[0][1] == "text/html"
    assert len(stub_broker.queues["gpu"].queue) == 1  # one train_lora message


def test_photos_ready_news_five_times_at_once_starts_one_training(make_order, stub_broker):
    order = make_order()
    Order.unscoped.filter(pk=order.pk).update(status=Order.Status.PAID, paid_at=order.created_at)
    subject_id = order.seat_set.get().subject_id

    results = run_at_once(
        lambda _: orchestration.seat_subject_photos_changed(subject_id=subject_id)
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert TrainingJob.unscoped.count() == 1
    assert order.seat_set.get().status == Seat.Status.TRAINING
    assert len(stub_broker.queues["gpu"].queue) == 1


def test_payment_and_photos_news_racing_start_exactly_one_training(
    post_event, make_order, stub_broker
):
    """Whichever takes the order lock second sees the other's committed state."""
    order = make_order()
    subject_id = order.seat_set.get().subject_id
    payload = session_event(order)

    def work(index: int):
        if index % 2:
            return orchestration.seat_subject_photos_changed(subject_id=subject_id)
        return post_event(Client(raise_request_exception=False), payload).status_code

    results = run_at_once(work, count=4)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert TrainingJob.unscoped.count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PROCESSING


def test_refund_racing_its_own_payment_is_never_lost(post_event, make_order, stub_broker):
    """A refund that names only the payment intent, delivered while the payment itself is
    being processed: serialised on the payment intent, so it is applied either way."""
    from apps.models.models import JobStatus
    from tests.orders.conftest import refund_event

    order = make_order()
    payloads = [session_event(order), refund_event(order, with_metadata=False)]

    results = run_at_once(
        lambda index: (
            post_event(Client(raise_request_exception=False), payloads[index]).status_code
        ),
        count=2,
    )
    assert results == [200, 200]
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED and order.paid_at is not None
    assert not TrainingJob.unscoped.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"processed"}
