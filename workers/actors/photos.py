"""Photo checks (cpu queue), their give-up handler and the daily retention purges of uploaded
photos and generated images (default queue)."""

import dramatiq
from dramatiq_crontab import cron

from apps.photos import orphans, retention, services


@dramatiq.actor(
    actor_name="check_photo",
    queue_name="cpu",
    max_retries=3,  # storage hiccups; the analysis itself never raises for bad input
    min_backoff=2_000,
    max_backoff=60_000,
    time_limit=120_000,
    # Once the retries are spent (time limit included), Dramatiq's Retries middleware sends the
    # failed message here, so the photo never stays at "Checking" for ever.
    on_retry_exhausted="check_photo_gave_up",
)
def check_photo(photo_id: int) -> None:
    services.photo_check(photo_id=photo_id)


@dramatiq.actor(
    actor_name="check_photo_gave_up",
    queue_name="default",
    max_retries=3,
    min_backoff=5_000,
    max_backoff=300_000,
    time_limit=60_000,
)
def check_photo_gave_up(message_data: dict, retry_info: dict) -> None:
    # message_data is the failed check_photo message (Message.asdict()): its args are (photo_id,).
    services.photo_check_failed(photo_id=message_data["args"][0])


# Daily at 03:17 (server time zone); `manage.py crontab` sends it, `manage.py purge_expired`
# runs every purge by hand.
@cron("17 3 * * *")
@dramatiq.actor(
    actor_name="purge_expired_photos",
    queue_name="default",
    max_retries=3,
    min_backoff=60_000,
    max_backoff=900_000,
    time_limit=1_800_000,
)
def purge_expired_photos() -> None:
    services.photos_purge_expired()


# Daily at 03:22, after the photo purge.
@cron("22 3 * * *")
@dramatiq.actor(
    actor_name="purge_expired_generated_images",
    queue_name="default",
    max_retries=3,
    min_backoff=60_000,
    max_backoff=900_000,
    time_limit=1_800_000,
)
def purge_expired_generated_images() -> None:
    retention.generated_images_purge_expired()


# Weekly, Sunday 04:07: files left behind by a killed worker or a failed delete.
# `manage.py sweep_orphan_files` does the same by hand.
@cron("7 4 * * sun")
@dramatiq.actor(
    actor_name="sweep_orphan_files",
    queue_name="default",
    max_retries=1,
    min_backoff=60_000,
    max_backoff=600_000,
    time_limit=3_600_000,
)
def sweep_orphan_files() -> None:
    orphans.storage_orphans_sweep()


# Every 10 minutes: photos still "Checking" long after upload get their check sent again.
@cron("*/10 * * * *")
@dramatiq.actor(
    actor_name="requeue_stale_photo_checks",
    queue_name="default",
    max_retries=1,
    min_backoff=10_000,
    max_backoff=60_000,
    time_limit=120_000,
)
def requeue_stale_photo_checks() -> None:
    services.photos_requeue_stale_checks()
