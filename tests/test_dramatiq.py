"""Actors through real brokers and workers, with the message JSON round-tripped."""

import dramatiq
import pytest
from django.core import mail

from config.dramatiq import QUEUES, build_broker
from tests.factories import UserFactory


def test_every_actor_sets_queue_retries_backoff_and_time_limit():
    broker = dramatiq.get_broker()
    assert broker.actors, "no actors declared"
    for name in broker.get_declared_actors():
        actor = broker.get_actor(name)
        assert actor.queue_name in QUEUES, name
        for option in ("max_retries", "min_backoff", "max_backoff", "time_limit"):
            assert option in actor.options, (name, option)


@pytest.mark.django_db(transaction=True)
def test_actor_round_trips_through_real_redis_and_a_worker(settings):
    redis_broker = build_broker("redis")
    redis_broker.flush_all()
    template = dramatiq.get_broker().get_actor("send_verification_email")
    actor = dramatiq.Actor(
        template.fn,
        broker=redis_broker,
        actor_name=template.actor_name,
        queue_name=template.queue_name,
        priority=template.priority,
        options=dict(template.options),
    )
    user = UserFactory(email="verify.me@example.com", email_verified_at=None)

    message = actor.send(user.pk)
    assert message.encode()  # the JSON that went over the wire
    worker = dramatiq.Worker(redis_broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        redis_broker.join(actor.queue_name, timeout=30_000)
        worker.join()
    finally:
        worker.stop()
        redis_broker.flush_all()
        redis_broker.close()

    assert [m.to for m in mail.outbox] == [["verify.me@example.com"]]
    assert "/accounts/verify/" in mail.outbox[0].body
