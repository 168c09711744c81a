"""Enqueueing from services: only after the surrounding transaction commits, ids only."""

from __future__ import annotations

from django.db import transaction


def send_now(actor_name: str, *args, **options) -> None:
    import dramatiq

    dramatiq.get_broker().get_actor(actor_name).send_with_options(args=args, **options)


def enqueue_on_commit(actor_name: str, *args, delay_ms: int | None = None) -> None:
    """Send ``actor_name(*args)`` once the current transaction commits (at once outside one).

    Looking actors up by name keeps services free of imports from ``workers`` (actors import
    services, never the other way round).
    """
    options = {"delay": delay_ms} if delay_ms else {}
    transaction.on_commit(lambda: send_now(actor_name, *args, **options))
