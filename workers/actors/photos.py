"""Photo checks (cpu queue) and the daily retention purge (default queue)."""

import dramatiq
from dramatiq_crontab import cron

from apps.photos import services


@dramatiq.actor(
    actor_name="check_photo",
    queue_name="cpu",
    max_retries=3,  # storage hiccups; the analysis itself never raises for bad input
    min_backoff=2_000,
    max_backoff=60_000,
    time_limit=120_000,
)
def check_photo(photo_id: int) -> None:
    services.photo_check(photo_id=photo_id)


# Daily at 03:17 (server time zone); `manage.py crontab` sends it, `manage.py purge_expired`
# does the same by hand.
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
