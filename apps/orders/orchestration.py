"""The pipeline from payment to delivered gallery. Owned by the orders engineer.

Entry points called by actors (by name) when something upstream changes:
- seat_subject_photos_changed(subject_id): a subject's accepted-photo count changed.
- seat_training_finished(training_job_id): a training job ended (succeeded or failed).
- seat_generation_finished(generation_job_id): a generation job ended.
"""

from __future__ import annotations


def seat_subject_photos_changed(*, subject_id: int) -> None:
    """Placeholder until the orders pipeline lands: nothing to orchestrate yet."""


def seat_training_finished(*, training_job_id: int) -> None:
    """Placeholder until the orders pipeline lands."""


def seat_generation_finished(*, generation_job_id: int) -> None:
    """Placeholder until the orders pipeline lands."""
