"""Training services: creating jobs, cancellation mid-run, failures and retries."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage, default_storage

from apps.models import services
from apps.models.models import JobStatus, LoraAdapter, TrainingJob
from apps.photos.models import Photo
from tests.factories import PhotoFactory, SubjectFactory, TrainingJobFactory
from tests.models.conftest import add_accepted_photos

WORKER = "test-host:1:1"


def _adapter_files() -> list[str]:
    found = []
    if default_storage.exists("ws"):
        for workspace in default_storage.listdir("ws")[0]:
            folder = f"ws/{workspace}/adapters"
            if default_storage.exists(folder):
                found += default_storage.listdir(folder)[1]
    return found


def test_create_refuses_a_subject_without_enough_accepted_photos(tiny_base, workspace, sent):
    subject = SubjectFactory(workspace=workspace)
    add_accepted_photos(subject, count=7)
    PhotoFactory(subject=subject, status=Photo.Status.REJECTED)
    with pytest.raises(ValidationError, match="at least 8 accepted photos.*7 are accepted so far"):
        services.training_job_create(subject=subject, base_model=tiny_base("sdxl"))
    assert not TrainingJob.unscoped.exists() and sent == []


def test_create_queues_one_job_per_subject_and_enqueues_on_commit(
    tiny_base, trainable_subject, sent, django_capture_on_commit_callbacks
):
    base = tiny_base("sdxl", steps=12)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.training_job_create(
            subject=trainable_subject, base_model=base, config={"seed": 7}
        )
    assert job.status == JobStatus.QUEUED and job.workspace_id == trainable_subject.workspace_id
    assert job.config["steps"] == 12 and job.config["seed"] == 7 and job.progress_total == 12
    assert sent == [("train_lora", (job.pk,))]

    with django_capture_on_commit_callbacks(execute=True):
        again = services.training_job_create(subject=trainable_subject, base_model=base)
    assert again.pk == job.pk and len(sent) == 1  # asking twice trains once


def test_create_uses_the_default_base_model(tiny_base, trainable_subject, sent):
    tiny_base("sdxl")
    job = services.training_job_create(subject=trainable_subject)
    assert job.base_model.name == "tiny-sdxl"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_cancel_during_training_writes_nothing(
    tiny_base, trainable_subject, sent, every_beat, monkeypatch
):
    from workers.pipeline import train

    job = TrainingJobFactory(subject=trainable_subject, base_model=tiny_base("flux", steps=40))
    real_train_lora = train.train_lora

    def cancel_at_step_3(**kwargs):
        progress = kwargs["progress"]

        def spy(step, total, loss):
            progress(step, total, loss)
            if step == 3:
                services.jobs_cancel_for_subject(subject=trainable_subject)

        return real_train_lora(**{**kwargs, "progress": spy})

    monkeypatch.setattr(train, "train_lora", cancel_at_step_3)
    assert services.training_job_run(job_id=job.pk, worker_id=WORKER) == "cancelled"

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.progress_step <= 4
    assert not LoraAdapter.unscoped.exists() and _adapter_files() == []
    assert not services.training_work_dir(job).exists()  # checkpoints of a cancelled job go
    assert sent == []  # no "training_finished" for a cancelled job


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_cancel_after_training_before_registration_removes_the_stored_file(
    tiny_base, trainable_subject, sent, monkeypatch
):
    from workers.pipeline import train

    job = TrainingJobFactory(subject=trainable_subject, base_model=tiny_base("flux", steps=4))
    real_train_lora = train.train_lora

    def cancel_when_done(**kwargs):
        result = real_train_lora(**kwargs)
        services.jobs_cancel_for_subject(subject=trainable_subject)
        return result

    stored = []
    real_save = FileSystemStorage.save

    def recording_save(storage, name, *args, **kwargs):
        stored.append(real_save(storage, name, *args, **kwargs))
        return stored[-1]

    monkeypatch.setattr(train, "train_lora", cancel_when_done)
    monkeypatch.setattr(FileSystemStorage, "save", recording_save)
    assert services.training_job_run(job_id=job.pk, worker_id=WORKER) == "cancelled"

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.adapter_id is None
    assert len(stored) == 1 and "/adapters/" in stored[0]  # it was written, then removed
    assert not default_storage.exists(stored[0]) and _adapter_files() == []
    assert not LoraAdapter.unscoped.exists()
    trainable_subject.refresh_from_db()
    assert trainable_subject.trained_at is None
    assert sent == []


def test_a_failed_attempt_is_retried_then_fails_in_plain_words(
    tiny_base, trainable_subject, sent, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from workers.pipeline import train

    settings.GPU_JOB_MAX_ATTEMPTS = 2
    job = TrainingJobFactory(subject=trainable_subject, base_model=tiny_base("sdxl"))

    def out_of_memory(**kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(train, "train_lora", out_of_memory)
    with pytest.raises(services.JobRetry):
        services.training_job_run(job_id=job.pk, worker_id=WORKER)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (JobStatus.QUEUED, 1, "")
    assert "out of memory" in job.error_detail and sent == []

    with django_capture_on_commit_callbacks(execute=True):
        assert services.training_job_run(job_id=job.pk, worker_id=WORKER) == "failed"
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)
    assert job.error.startswith("Something went wrong while learning your likeness")
    assert "Traceback" not in job.error and "CUDA" not in job.error
    assert "out of memory" in job.error_detail
    assert sent == [("training_finished", (job.pk,))]
    assert not LoraAdapter.unscoped.exists()


def test_photos_gone_before_the_run_fail_at_once_without_retry(
    tiny_base, trainable_subject, sent, django_capture_on_commit_callbacks
):
    job = TrainingJobFactory(subject=trainable_subject, base_model=tiny_base("sdxl"))
    Photo.unscoped.filter(subject=trainable_subject).update(status=Photo.Status.REJECTED)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.training_job_run(job_id=job.pk, worker_id=WORKER) == "failed"
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert "Upload new photos" in job.error
    assert sent == [("training_finished", (job.pk,))]


def test_a_job_running_elsewhere_with_a_live_heartbeat_is_left_alone(
    tiny_base, trainable_subject, sent
):
    from django.utils import timezone

    job = TrainingJobFactory(
        subject=trainable_subject,
        base_model=tiny_base("sdxl"),
        status=JobStatus.RUNNING,
        worker_id="other:2:2",
        attempts=1,
        heartbeat_at=timezone.now(),
    )
    assert services.training_job_run(job_id=job.pk, worker_id=WORKER) == "skipped"
    job.refresh_from_db()
    assert (job.status, job.worker_id, job.attempts) == (JobStatus.RUNNING, "other:2:2", 1)


def test_face_boxes_are_scaled_to_the_stored_image():
    from apps.models.services.training import _face_box_in_stored_pixels

    photo = Photo(width=4000, height=3000, face_box=[1000, 800, 1600, 1400])
    assert _face_box_in_stored_pixels(photo, (2000, 1500)) == (500, 400, 800, 700)
    assert _face_box_in_stored_pixels(Photo(face_box=None), (10, 10)) is None
