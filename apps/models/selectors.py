"""Reads for base models, styles, adapters and GPU jobs."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import Membership, Workspace
from apps.models.models import GenerationJob, JobStatus, LoraAdapter, Style, TrainingJob


def styles_active() -> QuerySet[Style]:
    return Style.objects.filter(active=True).order_by("sort_order", "name")


def _visible_subject_ids(workspace: Workspace, membership: Membership | None):
    """Members see the jobs of their own subjects only; owners and admins see all."""
    from apps.photos.selectors import subjects_visible_to

    if membership is None:
        return None
    return subjects_visible_to(workspace=workspace, membership=membership).values("pk")


def training_job_for_workspace(
    *, workspace: Workspace, public_id, membership: Membership | None = None
) -> TrainingJob | None:
    jobs = TrainingJob.objects.for_workspace(workspace).select_related("subject")
    visible = _visible_subject_ids(workspace, membership)
    if visible is not None:
        jobs = jobs.filter(subject_id__in=visible)
    return jobs.filter(public_id=public_id).first()


def generation_job_for_workspace(
    *, workspace: Workspace, public_id, membership: Membership | None = None
) -> GenerationJob | None:
    jobs = GenerationJob.objects.for_workspace(workspace).select_related("style")
    visible = _visible_subject_ids(workspace, membership)
    if visible is not None:
        jobs = jobs.filter(adapter__subject_id__in=visible)
    return jobs.filter(public_id=public_id).first()


def adapter_latest_for_subject(subject) -> LoraAdapter | None:
    """The subject's newest adapter whose file still exists (for re-rolls)."""
    return (
        LoraAdapter.unscoped.filter(subject_id=subject.pk)
        .exclude(file="")
        .select_related("base_model")
        .order_by("-created_at", "-version")
        .first()
    )


def training_jobs_for_subject(subject) -> QuerySet[TrainingJob]:
    return TrainingJob.unscoped.filter(subject_id=subject.pk).order_by("-created_at")


def job_is_active(job: TrainingJob | GenerationJob) -> bool:
    return job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
