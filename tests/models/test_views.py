"""Progress partials polled by htmx: a <progress> bar and "step x of y" while running."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.models.models import JobStatus
from tests.factories import (
    GenerationJobFactory,
    LoraAdapterFactory,
    SubjectFactory,
    TrainingJobFactory,
    WorkspaceFactory,
    member_of,
)


@pytest.fixture
def member_client(client, workspace):
    """A workspace admin: sees every subject's jobs."""
    client.force_login(member_of(workspace, role="admin"))
    return client


def training_url(job) -> str:
    return reverse(
        "models:training_progress",
        kwargs={"workspace": job.workspace.slug, "training_job": job.public_id},
    )


def test_running_training_job_polls_every_two_seconds(member_client, workspace):
    job = TrainingJobFactory(
        subject=SubjectFactory(workspace=workspace),
        status=JobStatus.RUNNING,
        progress_step=30,
        progress_total=60,
    )
    response = member_client.get(training_url(job))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<progress class="progress" max="60" value="30">50%</progress>' in html
    assert "Step 30 of 60" in html
    assert f'hx-get="{training_url(job)}"' in html and 'hx-trigger="every 2s"' in html


def test_finished_jobs_stop_polling(member_client, workspace):
    subject = SubjectFactory(workspace=workspace)
    done = TrainingJobFactory(
        subject=subject, status=JobStatus.SUCCEEDED, progress_step=60, progress_total=60
    )
    html = member_client.get(training_url(done)).content.decode()
    assert "hx-get" not in html and "Done" in html and "Step 60 of 60" in html

    failed = TrainingJobFactory(
        subject=SubjectFactory(workspace=workspace),
        status=JobStatus.FAILED,
        error="Something went wrong while learning your likeness.",
        error_detail="RuntimeError: CUDA out of memory",
    )
    html = member_client.get(training_url(failed)).content.decode()
    assert "hx-get" not in html and "Something went wrong while learning" in html
    assert "CUDA" not in html


def test_generation_progress_counts_images(member_client, workspace):
    job = GenerationJobFactory(
        adapter=LoraAdapterFactory(subject=SubjectFactory(workspace=workspace)),
        status=JobStatus.RUNNING,
        count=8,
        progress_total=8,
        progress_step=3,
    )
    url = reverse(
        "models:generation_progress",
        kwargs={"workspace": workspace.slug, "generation_job": job.public_id},
    )
    html = member_client.get(url).content.decode()
    assert "Image 3 of 8" in html and job.style.name in html and "hx-get" in html


def test_another_workspaces_job_is_not_found(member_client, workspace):
    foreign = TrainingJobFactory(subject=SubjectFactory(workspace=WorkspaceFactory()))
    url = reverse(
        "models:training_progress",
        kwargs={"workspace": workspace.slug, "training_job": foreign.public_id},
    )
    assert member_client.get(url).status_code == 404
    assert member_client.get(training_url(foreign)).status_code == 404  # not a member there


def test_a_member_sees_progress_of_their_own_jobs_only(client, workspace):
    member, colleague = member_of(workspace), member_of(workspace)
    own = TrainingJobFactory(subject=SubjectFactory(workspace=workspace, user=member))
    theirs = TrainingJobFactory(subject=SubjectFactory(workspace=workspace, user=colleague))
    client.force_login(member)
    assert client.get(training_url(own)).status_code == 200
    assert client.get(training_url(theirs)).status_code == 404
