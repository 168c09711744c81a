"""Training and generation through the actors and a real Dramatiq worker (stub broker, message
JSON round-tripped), on the tiny models, from real photos stored through the storage API."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.storage import default_storage
from safetensors import safe_open

from apps.models import services
from apps.models.models import GenerationJob, JobStatus, LoraAdapter, TrainingJob
from apps.photos.models import GeneratedImage
from tests.factories import StyleFactory
from tests.models.conftest import FAST_TRAIN, run_gpu_queue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("family", ["sdxl", "flux"])
def test_train_then_generate_through_the_actors(
    family, tiny_base, trainable_subject, stub_broker, stub_worker
):
    base = tiny_base(family)
    subject = trainable_subject

    job = services.training_job_create(subject=subject, base_model=base)
    run_gpu_queue(stub_broker, stub_worker)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_detail
    assert job.attempts == 1
    assert (job.progress_step, job.progress_total) == (FAST_TRAIN["steps"], FAST_TRAIN["steps"])
    assert job.loss is not None and job.resumed_from_step == 0
    adapter = job.adapter
    assert adapter.version == 1 and adapter.subject_id == subject.pk
    assert (adapter.rank, adapter.steps, adapter.trigger_token) == (4, 10, "ohwx")
    assert adapter.file.name.startswith(f"ws/{subject.workspace.public_id}/adapters/")
    assert default_storage.size(adapter.file.name) == adapter.size_bytes
    with default_storage.open(adapter.file.name, "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == adapter.sha256
    with safe_open(default_storage.path(adapter.file.name), "pt") as tensors:
        metadata = tensors.metadata()
    assert metadata["base_model_revision"] == base.revision
    assert metadata["family"] == family
    assert adapter.purge_after > adapter.created_at
    subject.refresh_from_db()
    assert subject.trained_at is not None
    assert not services.training_work_dir(job).exists()  # checkpoints removed once stored

    style = StyleFactory(prompt_template="headshot of {subject}, {backdrop}")
    gen = services.generation_job_create(adapter=adapter, style=style, count=3, seed_base=40)
    run_gpu_queue(stub_broker, stub_worker)

    gen.refresh_from_db()
    assert gen.status == JobStatus.SUCCEEDED, gen.error_detail
    assert (gen.progress_step, gen.progress_total) == (3, 3)
    images = list(GeneratedImage.unscoped.filter(generation_job=gen).order_by("seed"))
    assert [i.seed for i in images] == [40, 41, 42]
    for image in images:
        assert image.prompt == "headshot of ohwx person, grey studio backdrop"
        assert image.negative_prompt == style.negative_prompt
        assert image.parameters["steps"] == 2 and image.parameters["family"] == family
        assert (image.width, image.height) == (64, 64)
        assert default_storage.exists(image.image.name) and image.image.name.endswith(".jpg")
        assert default_storage.exists(image.thumbnail.name)
        assert image.thumbnail.name.endswith(".webp")
        # Random tiny weights paint noise: scored, no face found, held for a person to look at.
        assert image.face_found is False and image.likeness_distance is None
        assert image.moderation_status == GeneratedImage.Moderation.HELD
        assert image.hold_reason == GeneratedImage.HoldReason.NO_FACE
        assert image.purge_after is not None
    assert GenerationJob.unscoped.count() == 1
    assert LoraAdapter.unscoped.count() == 1


def test_redelivered_message_for_a_finished_job_changes_nothing(
    tiny_base, trainable_subject, stub_broker, stub_worker
):
    base = tiny_base("flux")
    job = services.training_job_create(subject=trainable_subject, base_model=base)
    run_gpu_queue(stub_broker, stub_worker)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    before = (job.attempts, job.finished_at, job.adapter_id, job.heartbeat_at)

    stub_broker.get_actor("train_lora").send(job.pk)  # as a redelivery would
    run_gpu_queue(stub_broker, stub_worker)

    job.refresh_from_db()
    assert (job.attempts, job.finished_at, job.adapter_id, job.heartbeat_at) == before
    assert LoraAdapter.unscoped.filter(subject=trainable_subject).count() == 1
    assert TrainingJob.unscoped.count() == 1
