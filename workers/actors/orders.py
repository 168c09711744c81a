"""Order orchestration and order emails (default queue); "download all" zips (cpu queue)."""

from datetime import timedelta

import dramatiq
from django.utils import timezone
from dramatiq_crontab import cron

from apps.orders import emails, orchestration, services, stripe_gateway, webhooks

ORCHESTRATION_OPTIONS = {
    "queue_name": "default",
    "max_retries": 10,
    "min_backoff": 5_000,
    "max_backoff": 300_000,
    "time_limit": 120_000,
}
EMAIL_OPTIONS = {
    "queue_name": "default",
    "max_retries": 5,
    "min_backoff": 10_000,
    "max_backoff": 600_000,
    "time_limit": 60_000,
}
EXPORT_OPTIONS = {
    "queue_name": "cpu",
    "max_retries": 0,  # a failed build marks its row failed; the customer asks again
    "min_backoff": 1_000,
    "max_backoff": 1_000,
    "time_limit": 15 * 60_000,
}


@dramatiq.actor(actor_name="subject_photos_changed", **ORCHESTRATION_OPTIONS)
def subject_photos_changed(subject_id: int) -> None:
    orchestration.seat_subject_photos_changed(subject_id=subject_id)


@dramatiq.actor(actor_name="training_finished", **ORCHESTRATION_OPTIONS)
def training_finished(training_job_id: int) -> None:
    orchestration.seat_training_finished(training_job_id=training_job_id)


@dramatiq.actor(actor_name="generation_finished", **ORCHESTRATION_OPTIONS)
def generation_finished(generation_job_id: int) -> None:
    orchestration.seat_generation_finished(generation_job_id=generation_job_id)


@dramatiq.actor(actor_name="send_order_email", **EMAIL_OPTIONS)
def send_order_email(order_id: int, kind: str, seat_id: int | None = None) -> None:
    emails.order_email_send(order_id=order_id, kind=kind, seat_id=seat_id)


@dramatiq.actor(actor_name="build_order_export", **EXPORT_OPTIONS)
def build_order_export(export_id: int) -> None:
    services.zip_export_build(export_id=export_id)


# Daily at 03:37; `manage.py purge_expired` runs the same purge by hand.
@cron("37 3 * * *")
@dramatiq.actor(
    actor_name="purge_expired_zip_exports",
    queue_name="default",
    max_retries=3,
    min_backoff=60_000,
    max_backoff=3_600_000,
    time_limit=1_800_000,
)
def purge_expired_zip_exports() -> None:
    services.zip_exports_purge_expired()


# Hourly safety net for lost webhook deliveries ("paid in Stripe but nothing happened"): the
# last three days of Stripe's events go through the webhook path; already-processed ones are
# skipped by their stored id. Does nothing without Stripe keys.
@cron("11 * * * *")
@dramatiq.actor(
    actor_name="reconcile_stripe_events",
    queue_name="default",
    max_retries=2,
    min_backoff=60_000,
    max_backoff=600_000,
    time_limit=900_000,
)
def reconcile_stripe_events() -> None:
    if stripe_gateway.is_configured():
        webhooks.stripe_reconcile(since=timezone.now() - timedelta(days=3))
