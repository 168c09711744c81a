"""Dramatiq broker set-up, chosen from settings.

- ``redis``: RedisBroker(REDIS_URL), shared by web and worker processes (production, integration
  tests).
- ``inprocess``: a local in-memory broker consumed by worker threads inside the ``manage.py run``
  process (the embedded default: no Redis needed).
- ``stub``: the same in-memory broker, consumed explicitly by tests (``Worker`` + ``join``).

Nothing here persists message arguments anywhere but the broker itself: messages carry ids only,
and no results/admin middleware writes them to the database.
"""

from __future__ import annotations

import logging
import threading

import dramatiq
from django.conf import settings
from django.db import close_old_connections, connections
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

logger = logging.getLogger(__name__)

QUEUES = ("gpu", "cpu", "default")
_lock = threading.Lock()
_configured = False


class DjangoDbConnections(dramatiq.Middleware):
    """Give every message a healthy DB connection and close it afterwards (as Django does per
    request), so a worker never reuses a connection the server dropped."""

    def before_process_message(self, broker, message):
        close_old_connections()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        close_old_connections()

    after_skip_message = after_process_message

    def before_worker_thread_shutdown(self, broker, thread):
        connections.close_all()


def build_broker(kind: str | None = None) -> dramatiq.Broker:
    kind = kind or settings.DRAMATIQ_BROKER
    if kind == "redis":
        broker: dramatiq.Broker = RedisBroker(url=settings.REDIS_URL, namespace="likeness")
    elif kind in ("inprocess", "stub"):
        broker = StubBroker()
        broker.emit_after("process_boot")
    else:
        raise ValueError(f"Unknown DRAMATIQ_BROKER {kind!r}")
    broker.add_middleware(DjangoDbConnections())
    for queue in QUEUES:
        broker.declare_queue(queue)
    return broker


def setup_broker() -> dramatiq.Broker:
    """Install the broker once per process, before any actor is declared."""
    global _configured
    with _lock:
        if not _configured:
            dramatiq.set_broker(build_broker())
            _configured = True
    return dramatiq.get_broker()


def start_inprocess_workers() -> list[dramatiq.Worker]:
    """Workers for the embedded default: one thread for the gpu queue (one job at a time, as on
    a GPU machine), two for cpu and default."""
    broker = setup_broker()
    workers = [
        dramatiq.Worker(broker, queues={"gpu"}, worker_threads=1),
        dramatiq.Worker(broker, queues={"cpu", "default"}, worker_threads=2),
    ]
    for worker in workers:
        worker.start()
    return workers


def start_inprocess_scheduler() -> threading.Thread:
    """Send the periodic (@cron) actors from a thread of this process: the embedded default has
    no separate `manage.py crontab` process. Actors are declared (and their schedules
    registered) when the accounts app loads."""
    from dramatiq_crontab import scheduler

    thread = threading.Thread(target=scheduler.start, name="cron-scheduler", daemon=True)
    thread.start()
    return thread
