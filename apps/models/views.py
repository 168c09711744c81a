"""Job progress partials, polled by htmx from the order page (and usable on their own)."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.decorators import workspace_required
from apps.models import selectors


@require_GET
@workspace_required
def training_progress(request, workspace: str, training_job):
    job = selectors.training_job_for_workspace(
        workspace=request.workspace, public_id=training_job, membership=request.membership
    )
    if job is None:
        raise Http404("No such job")
    return render(request, "models/_training_progress.html", {"job": job})


@require_GET
@workspace_required
def generation_progress(request, workspace: str, generation_job):
    job = selectors.generation_job_for_workspace(
        workspace=request.workspace, public_id=generation_job, membership=request.membership
    )
    if job is None:
        raise Http404("No such job")
    return render(request, "models/_generation_progress.html", {"job": job})
