"""Support actors: personal-data exports (cpu queue) and their daily expiry (default queue)."""

import dramatiq
from dramatiq_crontab import cron

from apps.photos import export

EXPORT_OPTIONS = {
    "queue_name": "cpu",
    "max_retries": 3,
    "min_backoff": 10_000,
    "max_backoff": 300_000,
    "time_limit": 30 * 60_000,
}


@dramatiq.actor(actor_name="build_data_export", **EXPORT_OPTIONS)
def build_data_export(export_id: int) -> None:
    export.data_export_build(export_id=export_id)


# Daily at 03:27, after the photo purge; `purge_now` in the support site does the same at once.
@cron("27 3 * * *")
@dramatiq.actor(
    actor_name="purge_expired_data_exports",
    queue_name="default",
    max_retries=3,
    min_backoff=60_000,
    max_backoff=900_000,
    time_limit=600_000,
)
def purge_expired_data_exports() -> None:
    export.data_exports_purge_expired()
