"""GPU jobs (gpu queue: one process, one thread per GPU), the stuck-job reaper and the daily
adapter purge (default).

A failed attempt puts its job back in the queue and raises (services.JobRetry), so Dramatiq's
retry with backoff runs it again; the attempt budget lives in the job row
(settings.GPU_JOB_MAX_ATTEMPTS), and the last failure marks the job failed without raising.
"""

from __future__ import annotations

import os
import socket
import threading

import dramatiq
from dramatiq_crontab import cron

from apps.models import services

# Workers never reach a model hub (the pipeline sets this too, before diffusers is imported).
os.environ["HF_HUB_OFFLINE"] = "1"

TRAIN_OPTIONS = {
    "queue_name": "gpu",
    "max_retries": 3,
    "min_backoff": 30_000,
    "max_backoff": 600_000,
    "time_limit": 6 * 3600 * 1000,
}
GENERATE_OPTIONS = {
    "queue_name": "gpu",
    "max_retries": 3,
    "min_backoff": 15_000,
    "max_backoff": 300_000,
    "time_limit": 3600 * 1000,
}
REAPER_OPTIONS = {
    "queue_name": "default",
    "max_retries": 0,  # it runs again in five minutes anyway
    "min_backoff": 1_000,
    "max_backoff": 1_000,
    "time_limit": 120_000,
}


def worker_id() -> str:
    """Who holds a job: host, process and thread (one GPU job per thread)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@dramatiq.actor(actor_name="train_lora", **TRAIN_OPTIONS)
def train_lora(job_id: int) -> None:
    services.training_job_run(job_id=job_id, worker_id=worker_id())


@dramatiq.actor(actor_name="generate_images", **GENERATE_OPTIONS)
def generate_images(job_id: int) -> None:
    services.generation_job_run(job_id=job_id, worker_id=worker_id())


@cron("*/5 * * * *")
@dramatiq.actor(actor_name="reap_stuck_jobs", **REAPER_OPTIONS)
def reap_stuck_jobs() -> None:
    services.jobs_reap_stuck()


# Daily at 03:47 (after the photo and image purges); `manage.py purge_expired` runs every purge.
@cron("47 3 * * *")
@dramatiq.actor(
    actor_name="purge_expired_adapters",
    queue_name="default",
    max_retries=3,
    min_backoff=60_000,
    max_backoff=900_000,
    time_limit=1_800_000,
)
def purge_expired_adapters() -> None:
    services.adapters_purge_expired()
