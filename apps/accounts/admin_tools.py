"""Shared pieces of the support site (the Django admin at /support/).

- ``SupportModelAdmin``: read-only by default (rows change through actions that call services),
  no add or delete, and ``has_<capability>_permission`` methods so actions can declare
  ``@admin.action(permissions=["moderate"])`` against the ``accounts.SupportCapability`` perms.
- ``change_link`` / ``changelist_link``: related objects one click away.
- ``stream_file``: image bytes for admin thumbnails, streamed through Django with nosniff — never
  a storage URL — by views the admin site wraps in ``admin_view`` plus a permission check.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from apps.accounts.models import ErasureRecord
from apps.photos.files import content_type_for_key

CAPABILITIES = {
    "moderate": "accounts.moderate_images",
    "refund": "accounts.refund_orders",
    "rerun": "accounts.rerun_jobs",
    "erase": "accounts.erase_persons",
    "export": "accounts.export_persons",
}


def change_link(obj, label: str | None = None) -> str:
    """A link to ``obj``'s admin change page ("—" for None)."""
    if obj is None:
        return "—"
    opts = obj._meta
    try:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(label or obj)
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


def audit_admin_save(request: HttpRequest, obj, form, change: bool) -> None:
    """Form edits on the support site (catalogue, settings, access) leave an audit row: which
    fields changed, never their values."""
    from apps.accounts.services import audit_record

    opts = obj._meta
    audit_record(
        actor=request.user,
        action=f"admin.{'change' if change else 'add'}.{opts.model_name}",
        workspace=getattr(obj, "workspace", None) if opts.model_name != "workspace" else obj,
        target_type=opts.model_name,
        target_ids=[getattr(obj, "public_id", obj.pk)],
        details={"fields": sorted(form.changed_data)},
    )


def _has_field(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.concrete_fields)


def changelist_link(model, label: str, **filters) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), label)


def stream_file(fieldfile: FieldFile) -> FileResponse:
    """Stream a private file inline with an explicit type, nosniff and no caching."""
    if not fieldfile or not fieldfile.name:
        raise Http404("No such file")
    try:
        handle = fieldfile.storage.open(fieldfile.name, "rb")
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise Http404("No such file") from exc
    content_type = content_type_for_key(fieldfile.name)
    response = FileResponse(handle, content_type=content_type)
    if "Content-Disposition" in response:
        del response["Content-Disposition"]  # never leak the storage key as a filename
    if not content_type.startswith("image/"):
        response["Content-Disposition"] = "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def img_tag(url: str, size: int, alt: str) -> str:
    return format_html(
        '<img src="{}" width="{}" height="{}" alt="{}" loading="lazy" '
        'style="object-fit:cover;border-radius:6px;background:#eee">',
        url,
        size,
        size,
        alt,
    )


class SupportModelAdmin(admin.ModelAdmin):
    """Read-only unless a subclass says otherwise; changes go through actions."""

    editable = False  # True: the usual change form for users with the change permission
    list_per_page = 50
    show_full_result_count = False  # no COUNT(*) over big tables on every page

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.editable and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.editable and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # Tenant rows: the workspace (not a form field) one click away on every change page.
        if _has_field(self.model, "workspace") and "workspace_link" not in fields:
            fields.insert(0, "workspace_link")
        return fields

    @admin.display(description="workspace")
    def workspace_link(self, obj) -> str:
        return change_link(getattr(obj, "workspace", None))

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        audit_admin_save(request, obj, form, change)

    # Capability checks for @admin.action(permissions=[...]).
    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CAPABILITIES["moderate"])

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CAPABILITIES["refund"])

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CAPABILITIES["rerun"])

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CAPABILITIES["erase"])

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CAPABILITIES["export"])


def confirm_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset,
    *,
    form_class,
    title: str,
    intro: str,
    button: str,
    apply,
):
    """An action with a confirmation page and a small form (reason, amount…).

    First POST (from the changelist): render the form. Second POST (``apply``): validate and
    call ``apply(cleaned_data)``; returning None sends the user back to the changelist.
    """
    from django.contrib.admin import helpers
    from django.template.response import TemplateResponse

    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        apply(form.cleaned_data)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "button": button,
        "form": form,
        "objects": list(queryset[:100]),
        "count": queryset.count(),
        "action_name": request.POST.get("action", ""),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": modeladmin.model._meta,
        "select_across": request.POST.get("select_across", "0"),
    }
    return TemplateResponse(request, "admin/support_action_confirm.html", context)


class EraseForm(forms.Form):
    reason = forms.ChoiceField(
        choices=ErasureRecord.Reason.choices, initial=ErasureRecord.Reason.SUPPORT_REQUEST
    )
    confirm = forms.BooleanField(
        label="I understand this deletes the data for good; orders are kept anonymised."
    )


def erase_action(modeladmin, request, queryset, *, erase):
    """Shared by the User and Subject erase actions: confirm with a reason, then erase each."""

    def apply(data):
        done, refused = 0, []
        for obj in queryset:
            try:
                erase(obj, request.user, data["reason"])
            except ValidationError as exc:
                refused.append(" ".join(exc.messages))
            else:
                done += 1
        if done:
            modeladmin.message_user(
                request, f"Erased {done}. A receipt was e-mailed where we had an address."
            )
        for message in sorted(set(refused)):
            modeladmin.message_user(request, message, level=messages.ERROR)

    return confirm_action(
        modeladmin,
        request,
        queryset,
        form_class=EraseForm,
        title="Erase personal data",
        intro=(
            "Every photo, trained model, generated image, export and job of the selected people "
            "is deleted from storage and the database. Orders stay for accounting, without "
            "names or e-mail addresses. This cannot be undone."
        ),
        button="Erase for good",
        apply=apply,
    )
