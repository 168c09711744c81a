"""Customers report a generated image: it is hidden at once and joins the moderation queue."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.accounts.decorators import workspace_required
from apps.photos import selectors
from apps.photos.moderation import image_report

REPORTED = (
    "Thanks for telling us. We hid this portrait and a person will look at it; if it is not "
    "right, we make you a new one free of charge."
)


def _back(request: HttpRequest) -> str:
    for candidate in (request.POST.get("next"), request.headers.get("Referer")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return candidate
    return "accounts:dashboard"


@require_POST
@workspace_required
def image_report_view(request: HttpRequest, workspace: str, image) -> HttpResponse:
    image_obj = selectors.generated_image_for_member(
        workspace=request.workspace, membership=request.membership, public_id=image
    )
    if image_obj is None:
        raise Http404("No such image")
    image_report(image=image_obj, actor=request.user)
    if request.headers.get("HX-Request"):
        return HttpResponse(f'<p class="badge wait" role="status">{REPORTED}</p>')
    messages.success(request, REPORTED)
    return redirect(_back(request))
