"""The whole pipeline for real: a signed checkout.session.completed for an order whose subject
has accepted photos (the astronaut from scikit-image, with face boxes) -> Dramatiq workers on
every queue (stub broker, message JSON round-tripped) train a LoRA on the tiny SDXL model,
generate the package's portraits in each style, deliver the order and send one email."""

from __future__ import annotations

import dramatiq
import pytest
from django.core import mail
from django.test import Client

from apps.models.models import GenerationJob, JobStatus, TrainingJob
from apps.orders.models import Order, Seat
from apps.photos.models import GeneratedImage
from tests.factories import (
    OrderFactory,
    PackageFactory,
    SeatFactory,
    StyleFactory,
    SubjectFactory,
    WorkspaceFactory,
    member_of,
)
from tests.models.conftest import add_accepted_photos, astronaut_embedding
from tests.orders.conftest import session_event

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def run_until(broker, condition, *, rounds: int = 10) -> None:
    """Drain every queue until ``condition()`` holds (each finished job enqueues follow-ups)."""
    for _ in range(rounds):
        for queue in ("default", "gpu", "cpu"):
            broker.join(queue, fail_fast=True, timeout=300_000)
        if condition():
            return
    raise AssertionError("the pipeline did not finish")


def test_paid_order_with_photos_is_trained_generated_and_delivered_once(
    tiny_base, post_event, stub_broker
):
    tiny_base("sdxl")
    styles = [
        StyleFactory(slug="pipeline-studio", name="Studio", sort_order=1),
        StyleFactory(slug="pipeline-office", name="Office", sort_order=2),
    ]
    workspace = WorkspaceFactory()
    buyer = member_of(workspace, role="owner", email="buyer@example.com")
    package = PackageFactory(images_per_seat=4, styles_count=2, reroll_credits=1)
    order = OrderFactory(workspace=workspace, buyer=buyer, package=package, styles=styles)
    subject = SubjectFactory(
        workspace=workspace, user=buyer, reference_embedding=list(astronaut_embedding())
    )
    add_accepted_photos(subject)
    seat = SeatFactory(order=order, subject=subject, member=buyer)

    # The same way a real worker deployment splits them: one thread on the gpu queue.
    workers = [
        dramatiq.Worker(stub_broker, queues={"gpu"}, worker_threads=1, worker_timeout=50),
        dramatiq.Worker(
            stub_broker, queues={"cpu", "default"}, worker_threads=1, worker_timeout=50
        ),
    ]
    for worker in workers:
        worker.start()
    try:
        assert post_event(Client(), session_event(order)).status_code == 200
        run_until(
            stub_broker,
            lambda: Order.unscoped.filter(pk=order.pk, status=Order.Status.DELIVERED).exists(),
        )
        for worker in workers:
            worker.join()
    finally:
        for worker in workers:
            worker.stop()

    order.refresh_from_db()
    seat.refresh_from_db()
    assert (order.status, seat.status) == (Order.Status.DELIVERED, Seat.Status.DELIVERED)
    training = TrainingJob.unscoped.get()
    assert training.status == JobStatus.SUCCEEDED and training.adapter is not None
    jobs = GenerationJob.unscoped.filter(seat=seat).order_by("style__sort_order")
    assert [(j.style.slug, j.count, j.status) for j in jobs] == [
        ("pipeline-studio", 2, JobStatus.SUCCEEDED),
        ("pipeline-office", 2, JobStatus.SUCCEEDED),
    ]
    images = GeneratedImage.unscoped.filter(subject=subject)
    assert images.count() == 4
    assert {i.style.slug for i in images} == {"pipeline-studio", "pipeline-office"}
    subjects = [m.subject for m in mail.outbox]
    assert subjects.count("Your portraits are ready") == 1
    assert sum("receipt" in s for s in subjects) == 1
    delivered = next(m for m in mail.outbox if m.subject == "Your portraits are ready")
    assert delivered.to == ["buyer@example.com"]
    assert f"/orders/{order.public_id}/gallery/" in delivered.body
