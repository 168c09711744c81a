"""The reaper, cancelling a subject's jobs, and the actor declarations."""

from __future__ import annotations

from datetime import timedelta

import dramatiq
import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.models import services
from apps.models.models import JobStatus
from tests.factories import GenerationJobFactory, LoraAdapterFactory, TrainingJobFactory

NOW = timezone.now()


def running(factory, *, age: timedelta, attempts: int = 1, **kwargs):
    return factory(
        status=JobStatus.RUNNING,
        worker_id="gpu-1:42:7",
        attempts=attempts,
        heartbeat_at=NOW - age,
        started_at=NOW - age,
        **kwargs,
    )


def test_stale_running_jobs_are_requeued_and_sent_again_fresh_ones_untouched(
    db, sent, settings, django_capture_on_commit_callbacks
):
    settings.GPU_JOB_STALE_SECONDS = 300
    stale_training = running(TrainingJobFactory, age=timedelta(minutes=6))
    stale_generation = running(GenerationJobFactory, age=timedelta(minutes=10))
    fresh = running(TrainingJobFactory, age=timedelta(seconds=30))

    with django_capture_on_commit_callbacks(execute=True):
        counts = services.jobs_reap_stuck(now=NOW)

    assert counts == {"requeued": 2, "failed": 0, "resent": 0}
    assert sorted(sent) == sorted(
        [("train_lora", (stale_training.pk,)), ("generate_images", (stale_generation.pk,))]
    )
    for job in (stale_training, stale_generation):
        job.refresh_from_db()
        assert (job.status, job.worker_id, job.attempts) == (JobStatus.QUEUED, "", 1)
        assert job.heartbeat_at == NOW
    heartbeat = fresh.heartbeat_at
    fresh.refresh_from_db()
    assert (fresh.status, fresh.worker_id, fresh.heartbeat_at) == (
        JobStatus.RUNNING,
        "gpu-1:42:7",
        heartbeat,
    )

    # Running it again at once changes nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.jobs_reap_stuck(now=NOW) == {"requeued": 0, "failed": 0, "resent": 0}
    assert len(sent) == 2


def test_a_stale_job_past_its_attempt_budget_fails(
    db, sent, settings, django_capture_on_commit_callbacks
):
    settings.GPU_JOB_MAX_ATTEMPTS = 3
    job = running(TrainingJobFactory, age=timedelta(hours=1), attempts=3)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.jobs_reap_stuck(now=NOW)["failed"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.finished_at == NOW
    assert job.error.startswith("Something went wrong") and "3 attempts" in job.error_detail
    assert sent == [("training_finished", (job.pk,))]


def test_queued_jobs_whose_message_may_be_lost_are_sent_again_once(
    db, sent, django_capture_on_commit_callbacks
):
    old = TrainingJobFactory(created_at=NOW - timedelta(hours=2))
    young = TrainingJobFactory(created_at=NOW - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.jobs_reap_stuck(now=NOW)["resent"] == 1
    assert sent == [("train_lora", (old.pk,))]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.jobs_reap_stuck(now=NOW + timedelta(minutes=5))["resent"] == 0
    young.refresh_from_db()
    assert young.status == JobStatus.QUEUED and len(sent) == 1


def test_reap_stuck_jobs_command(db, sent, django_capture_on_commit_callbacks, capsys):
    running(TrainingJobFactory, age=timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reap_stuck_jobs", "--stale-seconds", "60")
    assert "requeued 1, failed 0" in capsys.readouterr().out
    assert [name for name, _ in sent] == ["train_lora"]


def test_cancel_for_subject_stops_its_queued_and_running_jobs_only(db):
    adapter = LoraAdapterFactory()
    subject = adapter.subject
    queued = TrainingJobFactory(subject=subject, base_model=adapter.base_model)
    generating = running(GenerationJobFactory, age=timedelta(0), adapter=adapter)
    done = GenerationJobFactory(adapter=adapter, status=JobStatus.SUCCEEDED)
    other = TrainingJobFactory()

    assert services.jobs_cancel_for_subject(subject=subject) == 2
    for job, status in ((queued, "cancelled"), (generating, "cancelled"), (done, "succeeded")):
        job.refresh_from_db()
        assert job.status == status
    assert queued.finished_at is not None
    other.refresh_from_db()
    assert other.status == JobStatus.QUEUED
    assert services.jobs_cancel_for_subject(subject=subject) == 0


@pytest.mark.parametrize(
    ("name", "queue", "time_limit"),
    [
        ("train_lora", "gpu", 6 * 3600 * 1000),
        ("generate_images", "gpu", 3600 * 1000),
        ("reap_stuck_jobs", "default", 120_000),
    ],
)
def test_actors_are_declared_with_their_queue_and_limits(name, queue, time_limit):
    actor = dramatiq.get_broker().get_actor(name)
    assert actor.queue_name == queue
    assert actor.options["time_limit"] == time_limit
    assert actor.options["max_retries"] >= (3 if queue == "gpu" else 0)


def test_the_reaper_runs_every_five_minutes():
    from dramatiq_crontab import scheduler

    jobs = {job.name: job for job in scheduler.get_jobs()}
    assert "reap_stuck_jobs" in jobs
    assert "*/5" in str(jobs["reap_stuck_jobs"].trigger)
