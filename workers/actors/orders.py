"""Order orchestration (default queue)."""

import dramatiq

from apps.orders import orchestration

ORCHESTRATION_OPTIONS = {
    "queue_name": "default",
    "max_retries": 10,
    "min_backoff": 5_000,
    "max_backoff": 300_000,
    "time_limit": 120_000,
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
