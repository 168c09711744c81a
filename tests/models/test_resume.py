"""A training worker killed with SIGKILL mid-run: the reaper requeues the job and a new worker
process resumes from the checkpoint. Real processes, real Redis broker, the test's database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import dramatiq
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.models import services
from apps.models.models import JobStatus, LoraAdapter, TrainingJob
from config.dramatiq import build_broker
from workers.pipeline.train import CHECKPOINT_FILENAME

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKER_SCRIPT = Path(__file__).with_name("gpu_worker_process.py")


def _database_url() -> str:
    db = connection.settings_dict  # pytest-django's test_<name> database
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _wait_for(condition, *, timeout: float, what: str, proc=None, log=None) -> None:
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"worker exited early while waiting for {what}:\n{log.read_text()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting for {what}" + (f":\n{log.read_text()}" if log else "")
            )
        pause.wait(0.05)


@pytest.fixture
def redis_broker(monkeypatch):
    """Services' enqueue_on_commit sends go to the real Redis broker the worker processes use."""
    broker = build_broker("redis")
    broker.flush_all()

    def send_now(actor_name, *args, **options):
        queue = dramatiq.get_broker().get_actor(actor_name).queue_name
        broker.enqueue(
            dramatiq.Message(
                queue_name=queue, actor_name=actor_name, args=args, kwargs={}, options={}
            )
        )

    monkeypatch.setattr("config.tasks.send_now", send_now)
    yield broker
    broker.flush_all()
    broker.close()


def test_killed_worker_is_requeued_and_the_next_one_resumes(
    tiny_base, trainable_subject, redis_broker, tmp_path
):
    base = tiny_base("sdxl", steps=60, checkpoint_every=2)
    job = services.training_job_create(subject=trainable_subject, base_model=base)
    checkpoint = services.training_work_dir(job) / CHECKPOINT_FILENAME
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": _database_url(),
        "TEST_REDIS_URL": settings.REDIS_URL,
        "TEST_DRAMATIQ_BROKER": "redis",
        "TEST_MEDIA_ROOT": settings.STORAGES["default"]["OPTIONS"]["location"],
        "TEST_MODEL_ROOT": str(settings.MODEL_ROOT),
        # One torch thread: on a busy 2-core machine two spin-waiting OpenMP threads make each
        # tiny step ~15x slower (measured), and this test shares the machine with the suite.
        "OMP_NUM_THREADS": "1",
    }

    def start(name: str):
        log = tmp_path / f"{name}.log"
        proc = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        return proc, log

    first, first_log = start("worker-1")
    try:
        _wait_for(
            checkpoint.exists, timeout=180, what="the first checkpoint", proc=first, log=first_log
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.attempts == 1
    assert not LoraAdapter.unscoped.exists()

    # The dead worker's heartbeat goes stale; the reaper puts the job back and sends it again.
    later = timezone.now() + timedelta(seconds=settings.GPU_JOB_STALE_SECONDS + 1)
    assert services.jobs_reap_stuck(now=later)["requeued"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED

    second, second_log = start("worker-2")
    try:
        _wait_for(
            lambda: (
                TrainingJob.unscoped.get(pk=job.pk).status
                not in (JobStatus.QUEUED, JobStatus.RUNNING)
            ),
            timeout=240,
            what="the resumed job to finish",
            proc=second,
            log=second_log,
        )
    finally:
        second.terminate()
        try:
            second.wait(timeout=30)
        except subprocess.TimeoutExpired:
            second.kill()

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_detail
    assert job.attempts == 2
    assert job.resumed_from_step >= 2
    assert job.progress_step == 60
    adapters = list(LoraAdapter.unscoped.filter(subject=trainable_subject))
    assert len(adapters) == 1 and adapters[0].version == 1 and job.adapter_id == adapters[0].pk
    assert adapters[0].metrics["resumed_from_step"] == job.resumed_from_step
    assert not services.training_work_dir(job).exists()
