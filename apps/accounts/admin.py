"""Support site: accounts, workspaces, memberships, invitations, the audit log and erasures.

Support staff (the ``Support`` group, apps/accounts/roles.py) view everything here; changing a
user's access (staff, superuser, groups, permissions) is for superusers only, whatever other
permissions someone is given. Erasure and export are actions that call services.
"""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.accounts.admin_tools import (
    CAPABILITIES,
    SupportModelAdmin,
    audit_admin_save,
    change_link,
    changelist_link,
    erase_action,
)
from apps.accounts.models import AuditLog, ErasureRecord, Invitation, Membership, User, Workspace

ACCESS_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("user_link", "workspace_link", "role", "created_at")
    readonly_fields = ("user_link", "workspace_link", "role", "created_at")
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="user")
    def user_link(self, membership: Membership) -> str:
        return change_link(membership.user)

    @admin.display(description="workspace")
    def workspace_link(self, membership: Membership) -> str:
        return change_link(membership.workspace)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("-date_joined",)
    list_display = ("email", "full_name", "email_verified_at", "is_staff", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "date_joined")
    search_fields = ("email", "full_name", "public_id")
    readonly_fields = (
        "public_id",
        "date_joined",
        "last_login",
        "email_verified_at",
        "erased_at",
        "related",
    )
    fieldsets = (
        (None, {"fields": ("email", "password", "public_id")}),
        ("Profile", {"fields": ("full_name", "email_verified_at", "erased_at")}),
        ("Related", {"fields": ("related",)}),
        ("Permissions", {"fields": ("is_active", *ACCESS_FIELDS)}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = [MembershipInline]
    actions = ["erase_people", "export_data"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Access is granted by superusers only, even to staff who may edit users.
            fields += [f for f in ACCESS_FIELDS if f not in fields]
        return fields

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # people are erased (with their files), never just deleted

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm(CAPABILITIES["erase"])

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm(CAPABILITIES["export"])

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        audit_admin_save(request, obj, form, change)

    def user_change_password(self, request, id, form_url=""):
        if not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    @admin.display(description="related")
    def related(self, user: User) -> str:
        from apps.orders.models import Order
        from apps.photos.models import DataExport, Subject

        if user.pk is None:
            return "—"
        return format_html(
            "{} · {} · {}",
            changelist_link(Subject, "subjects", q=str(user.public_id)),
            changelist_link(Order, "orders bought", q=user.email),
            changelist_link(DataExport, "data exports", q=user.email),
        )

    @admin.action(description="Erase selected people (GDPR)", permissions=["erase"])
    def erase_people(self, request, queryset):
        from apps.photos.erasure import person_erase

        return erase_action(
            self,
            request,
            queryset,
            erase=lambda user, actor, reason: person_erase(user=user, actor=actor, reason=reason),
        )

    @admin.action(description="Export selected people's data (zip)", permissions=["export"])
    def export_data(self, request, queryset):
        from apps.photos.export import data_export_request

        queued = 0
        for user in queryset:
            try:
                data_export_request(user=user, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), level=messages.WARNING)
            else:
                queued += 1
        if queued:
            self.message_user(
                request, f"{queued} export(s) queued; download them from Photos › Data exports."
            )


@admin.register(Workspace)
class WorkspaceAdmin(SupportModelAdmin):
    editable = True  # name and retention overrides, for users with the change permission
    list_display = ("name", "slug", "kind", "member_count", "created_at")
    list_filter = ("kind", "created_at")
    search_fields = ("name", "slug", "public_id", "memberships__user__email")
    fields = (
        "name",
        "slug",
        "public_id",
        "kind",
        "created_at",
        "photo_retention_days",
        "photo_retention_after_training_days",
        "team_style_slugs",
        "related",
    )
    readonly_fields = ("public_id", "slug", "kind", "created_at", "related")
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("memberships"))

    def has_add_permission(self, request) -> bool:
        return False  # workspaces are made by sign-up and by customers

    @admin.display(description="members", ordering="member_total")
    def member_count(self, workspace: Workspace) -> int:
        return workspace.member_total

    @admin.display(description="related")
    def related(self, workspace: Workspace) -> str:
        from apps.models.models import LoraAdapter, TrainingJob
        from apps.orders.models import Order
        from apps.photos.models import GeneratedImage, Photo, Subject

        if workspace.pk is None:
            return "—"
        key = {"workspace__id__exact": workspace.pk}
        retention = reverse("admin:accounts_workspace_retention", args=[workspace.pk])
        return format_html(
            "{} · {} · {} · {} · {} · {} · {}",
            changelist_link(Subject, "subjects", **key),
            changelist_link(Photo, "photos", **key),
            changelist_link(GeneratedImage, "generated images", **key),
            changelist_link(LoraAdapter, "adapters", **key),
            changelist_link(TrainingJob, "training jobs", **key),
            changelist_link(Order, "orders", **key),
            format_html('<a href="{}">retention and purge</a>', retention),
        )

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/retention/",
                self.admin_site.admin_view(self.retention_view),
                name="accounts_workspace_retention",
            )
        ]
        return custom + super().get_urls()

    def retention_view(self, request: HttpRequest, object_id: str):
        """What will be purged when, for one workspace; "purge now" runs the purge."""
        from apps.photos.retention import purge_now, retention_schedule, upcoming_photo_purges

        if not self.has_view_permission(request):
            raise PermissionDenied
        workspace = get_object_or_404(Workspace, pk=object_id)
        can_purge = self.has_erase_permission(request)
        if request.method == "POST":
            if not can_purge:
                raise PermissionDenied
            counts = purge_now(actor=request.user, workspace=workspace)
            self.message_user(request, f"Purge ran: {counts}")
            return redirect("admin:accounts_workspace_retention", object_id=workspace.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Retention — {workspace.name}",
            "opts": self.model._meta,
            "original": workspace,
            "schedule": retention_schedule(workspace=workspace, now=timezone.now()),
            "upcoming": upcoming_photo_purges(workspace=workspace),
            "can_purge": can_purge,
        }
        return TemplateResponse(request, "admin/accounts/workspace/retention.html", context)


@admin.register(Membership)
class MembershipAdmin(SupportModelAdmin):
    list_display = ("user_link", "workspace_link", "role", "created_at")
    list_filter = ("role", "created_at")
    search_fields = ("user__email", "workspace__slug", "workspace__name")
    list_select_related = ("user", "workspace")

    @admin.display(description="user", ordering="user__email")
    def user_link(self, membership: Membership) -> str:
        return change_link(membership.user)

    @admin.display(description="workspace")
    def workspace_link(self, membership: Membership) -> str:
        return change_link(membership.workspace)


@admin.register(Invitation)
class InvitationAdmin(SupportModelAdmin):
    list_display = ("email", "workspace_link", "role", "status", "created_at", "expires_at")
    list_filter = ("status", "role", "created_at")
    search_fields = ("email", "public_id", "workspace__name", "workspace__slug")
    list_select_related = ("workspace",)
    exclude = ("token_hash",)

    @admin.display(description="workspace")
    def workspace_link(self, invitation: Invitation) -> str:
        return change_link(invitation.workspace)


@admin.register(AuditLog)
class AuditLogAdmin(SupportModelAdmin):
    list_display = ("created_at", "action", "actor_kind", "actor_id", "target_type", "workspace_id")
    list_filter = ("action", "actor_kind", "created_at")
    search_fields = ("action", "target_ids")
    date_hierarchy = "created_at"


@admin.register(ErasureRecord)
class ErasureRecordAdmin(SupportModelAdmin):
    list_display = ("public_id", "scope", "reason", "actor_kind", "created_at", "receipt_sent_at")
    list_filter = ("scope", "reason", "created_at")
    search_fields = ("public_id",)
    date_hierarchy = "created_at"

    def get_search_results(self, request, queryset, search_term):
        """A raw user or subject id is matched through its digest: the record never stores
        the id itself."""
        results, distinct = super().get_search_results(request, queryset, search_term)
        try:
            value = uuid.UUID(search_term.strip())
        except ValueError:
            return results, distinct
        from apps.photos.erasure import id_digest

        digest = id_digest(value)
        by_digest = queryset.filter(Q(user_digest=digest) | Q(subject_digests__contains=[digest]))
        return results | by_digest, distinct
