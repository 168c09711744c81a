"""Your data: download a copy (GDPR Art. 15/20) or erase everything (Art. 17).

Both need the password again: a session left open on a shared computer must not be enough to
take someone's photos or delete their account. Five wrong passwords end the session.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import ErasureRecord
from apps.photos.erasure import erasure_preview, person_erase
from apps.photos.export import (
    data_export_is_downloadable,
    data_export_request,
    data_exports_for_user,
)
from apps.photos.files import serve_private_file
from apps.photos.models import DataExport

MAX_REAUTH_FAILURES = 5
FAILURES_KEY = "privacy_reauth_failures"


class ReauthForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="We ask again to be sure it is you.",
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError("That password is not right. Try again.")
        return password


class EraseForm(ReauthForm):
    confirm = forms.BooleanField(
        label="I understand that my photos, trained models and portraits are deleted for good "
        "and my account is closed."
    )


def _context(request: HttpRequest, **forms_) -> dict:
    return {
        "exports": data_exports_for_user(request.user),
        "export_form": forms_.get("export_form") or ReauthForm(user=request.user),
        "erase_form": forms_.get("erase_form") or EraseForm(user=request.user),
        "preview": erasure_preview(user=request.user),
    }


def _reauth_failed(request: HttpRequest) -> bool:
    """Count a wrong password; True when the session has just been ended for too many."""
    failures = request.session.get(FAILURES_KEY, 0) + 1
    request.session[FAILURES_KEY] = failures
    if failures >= MAX_REAUTH_FAILURES:
        logout(request)
        messages.error(request, "Too many wrong passwords: please log in again.")
        return True
    return False


@login_required
@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/privacy.html", _context(request))


@login_required
@require_GET
def privacy_exports(request: HttpRequest) -> HttpResponse:
    """The exports list alone, polled by htmx while one is being prepared."""
    return render(
        request, "accounts/privacy_exports.html", {"exports": data_exports_for_user(request.user)}
    )


@login_required
@require_POST
def privacy_export(request: HttpRequest) -> HttpResponse:
    form = ReauthForm(request.POST, user=request.user)
    if not form.is_valid():
        if form.has_error("password") and _reauth_failed(request):
            return redirect("accounts:login")
        return render(request, "accounts/privacy.html", _context(request, export_form=form))
    request.session.pop(FAILURES_KEY, None)
    try:
        data_export_request(user=request.user, actor=request.user)
    except ValidationError as exc:
        messages.info(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            "We are preparing your download. It appears below in a few minutes; we keep it "
            "for 7 days.",
        )
    return redirect("accounts:privacy")


@login_required
@require_GET
def privacy_export_download(request: HttpRequest, data_export) -> HttpResponse:
    export_obj = DataExport.unscoped.filter(user=request.user, public_id=data_export).first()
    if export_obj is None or not data_export_is_downloadable(export_obj):
        raise Http404("No such download")
    name = f"likeness-data-{export_obj.created_at:%Y-%m-%d}.zip"
    return serve_private_file(
        request, export_obj.file, content_type="application/zip", download_name=name
    )


@login_required
@require_POST
def privacy_erase(request: HttpRequest) -> HttpResponse:
    form = EraseForm(request.POST, user=request.user)
    if not form.is_valid():
        if form.has_error("password") and _reauth_failed(request):
            return redirect("accounts:login")
        return render(request, "accounts/privacy.html", _context(request, erase_form=form))
    try:
        request.session.pop(FAILURES_KEY, None)
        person_erase(
            user=request.user,
            actor=request.user,
            reason=ErasureRecord.Reason.CUSTOMER_REQUEST,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("accounts:privacy")
    logout(request)
    return redirect("accounts:privacy_erased")


def privacy_erased(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/privacy_erased.html")
