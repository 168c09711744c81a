"""Generation services: parameters, likeness scoring and moderation, resume and cancel.

The end-to-end run on the tiny models is in test_actors.py; here a stand-in generator returns
real photos (the astronaut: a face) and noise, so the delivered path is exercised too."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from apps.models import services
from apps.models.models import GenerationJob, JobStatus
from apps.photos.models import GeneratedImage
from tests.factories import (
    BaseModelFactory,
    GeneratedImageFactory,
    GenerationJobFactory,
    LoraAdapterFactory,
    StyleFactory,
    SubjectFactory,
)
from tests.models.conftest import astronaut, astronaut_embedding

WORKER = "test-host:1:1"


def noise(seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


class StandInGenerator:
    """Odd seeds: noise (no face). Even seeds: the astronaut. Records the calls."""

    base_model_revision = "0" * 64  # as BaseModelFactory registers

    def __init__(self, on_batch=None):
        self.calls: list[dict] = []
        self.on_batch = on_batch

    def generate(self, **kwargs):
        from workers.pipeline.generate import GeneratedSample

        self.calls.append(kwargs)
        if self.on_batch:
            self.on_batch(len(self.calls))
        return [
            GeneratedSample(
                image=astronaut() if seed % 2 == 0 else noise(seed),
                seed=seed,
                prompt=kwargs["prompt"],
                negative_prompt=kwargs["negative_prompt"],
                params={"steps": kwargs["steps"], "guidance": kwargs["guidance"]},
            )
            for seed in kwargs["seeds"]
        ]


@pytest.fixture
def stand_in(monkeypatch):
    from workers.pipeline import generate

    def install(**kwargs):
        generator = StandInGenerator(**kwargs)
        monkeypatch.setattr(generate, "get_generator", lambda model_dir, family: generator)
        return generator

    return install


@pytest.fixture
def adapter(workspace):
    subject = SubjectFactory(workspace=workspace, reference_embedding=list(astronaut_embedding()))
    base = BaseModelFactory(
        family="flux",
        inference_defaults={"steps": 20, "guidance": 3.0, "width": 512, "height": 512},
    )
    return LoraAdapterFactory(subject=subject, base_model=base, trigger_token="ohwx")


def test_create_snapshots_parameters_and_enqueues(
    adapter, sent, django_capture_on_commit_callbacks
):
    style = StyleFactory(parameters={"flux": {"guidance": 3.8}, "sdxl": {"guidance": 7.0}})
    with django_capture_on_commit_callbacks(execute=True):
        job = services.generation_job_create(adapter=adapter, style=style, count=6, seed_base=5)
    assert job.params == {"steps": 20, "guidance": 3.8, "width": 512, "height": 512}
    assert (job.count, job.seed_base, job.progress_total, job.kind) == (6, 5, 6, "initial")
    assert sent == [("generate_images", (job.pk,))]
    assert services.generation_job_create(adapter=adapter, style=style, count=1).seed_base >= 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"count": 0}, "between 1 and 100"),
        ({"count": 101}, "between 1 and 100"),
        ({"style_active": False}, "no longer offered"),
        ({"adapter_file": ""}, "has been deleted"),
    ],
)
def test_create_refuses_bad_requests_in_plain_words(adapter, sent, change, message):
    style = StyleFactory(active=change.get("style_active", True))
    if "adapter_file" in change:
        adapter.file = ""
    with pytest.raises(ValidationError, match=message):
        services.generation_job_create(adapter=adapter, style=style, count=change.get("count", 2))
    assert not GenerationJob.unscoped.exists() and sent == []


def test_images_are_stored_scored_and_delivered_or_held(
    adapter, stand_in, sent, django_capture_on_commit_callbacks
):
    generator = stand_in()
    style = StyleFactory(prompt_template="portrait of {subject} in {outfit}", outfit="a suit")
    job = GenerationJobFactory(adapter=adapter, style=style, count=3, seed_base=10)
    job.params = {"steps": 3, "guidance": 2.5, "batch_size": 2}
    job.save()

    with django_capture_on_commit_callbacks(execute=True):
        assert services.generation_job_run(job_id=job.pk, worker_id=WORKER) == "succeeded"

    assert [c["seeds"] for c in generator.calls] == [[10, 11], [12]]
    assert generator.calls[0]["prompt"] == "portrait of ohwx person in a suit"
    assert generator.calls[0]["steps"] == 3 and generator.calls[0]["guidance"] == 2.5
    job.refresh_from_db()
    assert (job.status, job.progress_step, job.attempts) == (JobStatus.SUCCEEDED, 3, 1)
    rows = {r.seed: r for r in GeneratedImage.unscoped.filter(generation_job=job)}
    assert sorted(rows) == [10, 11, 12]
    for seed in (10, 12):  # the astronaut: her own face, delivered
        row = rows[seed]
        assert row.face_found and row.likeness_distance < 0.1
        assert (row.moderation_status, row.hold_reason) == ("delivered", "")
        assert (row.width, row.height) == (512, 512)
    assert rows[11].face_found is False and rows[11].likeness_distance is None
    assert (rows[11].moderation_status, rows[11].hold_reason) == ("held", "no_face")
    for row in rows.values():
        assert row.subject_id == adapter.subject_id and row.adapter_id == adapter.pk
        assert row.style_id == style.pk and row.parameters["kind"] == "initial"
        with default_storage.open(row.image.name) as handle:
            assert Image.open(handle).format == "JPEG"
        with default_storage.open(row.thumbnail.name) as handle:
            thumb = Image.open(handle)
            assert thumb.format == "WEBP" and max(thumb.size) <= 256
    assert sent == [("generation_finished", (job.pk,))]
    from apps.models.services.generation import generation_work_dir

    assert not generation_work_dir(job).exists()


def test_a_face_far_from_the_reference_is_held_for_low_likeness(settings):
    far = [v + 0.2 for v in astronaut_embedding()]  # ~2.3 away: someone else
    score = services.score_likeness(astronaut(), far)
    assert score.face_found and score.distance > settings.LIKENESS_MAX_DISTANCE
    assert (score.status, score.hold_reason) == ("held", "low_likeness")
    settings.LIKENESS_MAX_DISTANCE = 3.0
    assert services.score_likeness(astronaut(), far).status == "delivered"
    assert services.score_likeness(astronaut(), None).hold_reason == "low_likeness"


def test_a_resumed_job_only_makes_the_missing_seeds(adapter, stand_in, sent):
    generator = stand_in()
    job = GenerationJobFactory(
        adapter=adapter,
        count=4,
        seed_base=0,
        status=JobStatus.RUNNING,
        worker_id="dead:1:1",
        attempts=1,
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1),
        progress_step=2,
    )
    for seed in (0, 1):
        GeneratedImageFactory(subject=adapter.subject, generation_job=job, seed=seed)

    assert services.generation_job_run(job_id=job.pk, worker_id=WORKER) == "succeeded"
    assert [c["seeds"] for c in generator.calls] == [[2, 3]]
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress_step) == (JobStatus.SUCCEEDED, 2, 4)
    seeds = GeneratedImage.unscoped.filter(generation_job=job).values_list("seed", flat=True)
    assert sorted(seeds) == [0, 1, 2, 3]

    assert services.generation_job_run(job_id=job.pk, worker_id=WORKER) == "skipped"
    assert len(generator.calls) == 1 and GeneratedImage.unscoped.count() == 4


@pytest.mark.django_db(transaction=True)
def test_cancelled_mid_run_removes_every_image_it_wrote(workspace, stand_in, sent, every_beat):
    subject = SubjectFactory(workspace=workspace, reference_embedding=list(astronaut_embedding()))
    adapter = LoraAdapterFactory(subject=subject)

    def cancel_on_second_batch(batch: int) -> None:
        if batch == 2:
            assert services.jobs_cancel_for_subject(subject=subject) == 1

    stand_in(on_batch=cancel_on_second_batch)
    job = GenerationJobFactory(adapter=adapter, count=6, seed_base=0)
    job.params = {"batch_size": 2, "steps": 2}
    job.save()

    assert services.generation_job_run(job_id=job.pk, worker_id=WORKER) == "cancelled"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert not GeneratedImage.unscoped.exists()
    folder = f"ws/{workspace.public_id}"
    for kind in ("generated", "thumbs"):
        path = f"{folder}/{kind}"
        assert not default_storage.exists(path) or default_storage.listdir(path)[1] == []
    assert sent == []
