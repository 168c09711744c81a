"""Support site: base models and styles (edited by superusers), adapters and GPU jobs
(read-only; a failed seat is re-run with an action that calls the orders pipeline)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from apps.accounts.admin_tools import SupportModelAdmin, change_link
from apps.models.models import BaseModel, GenerationJob, LoraAdapter, Style, TrainingJob


@admin.register(BaseModel)
class BaseModelAdmin(SupportModelAdmin):
    editable = True  # enable/disable and the defaults; registration itself is a service
    list_display = ("name", "family", "enabled", "is_default", "revision", "created_at")
    list_filter = ("family", "enabled", "is_default")
    search_fields = ("name", "path", "revision")
    readonly_fields = ("name", "family", "path", "revision", "created_at")

    def has_add_permission(self, request) -> bool:
        return False  # registered by base_model_register (it checks the files on disk)


@admin.register(Style)
class StyleAdmin(SupportModelAdmin):
    editable = True  # prompt templates are edited by staff with the change permission
    list_display = ("name", "slug", "active", "sort_order", "backdrop", "outfit", "lighting")
    list_filter = ("active",)
    list_editable = ()
    search_fields = ("name", "slug", "prompt_template")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(LoraAdapter)
class LoraAdapterAdmin(SupportModelAdmin):
    list_display = (
        "public_id",
        "subject_link",
        "workspace_link",
        "base_model",
        "version",
        "size_bytes",
        "steps",
        "created_at",
        "purge_after",
        "purged_at",
    )
    list_filter = ("base_model", "created_at", "purge_after", "purged_at")
    search_fields = ("public_id", "subject__public_id", "subject__user__email", "workspace__slug")
    list_select_related = ("subject", "workspace", "base_model")
    # The weights file is a likeness of a person: never downloadable from the support site.
    exclude = ("file",)

    @admin.display(description="subject")
    def subject_link(self, adapter: LoraAdapter) -> str:
        return change_link(adapter.subject)


class JobAdmin(SupportModelAdmin):
    list_filter = ("status", "created_at", "finished_at")
    date_hierarchy = "created_at"
    actions = ["rerun_seats"]

    @admin.display(description="progress")
    def progress(self, job) -> str:
        return f"{job.percent}%"

    @admin.display(description="seat")
    def seat_link(self, job) -> str:
        return change_link(job.seat)

    @admin.action(description="Re-run the failed seats of these jobs", permissions=["rerun"])
    def rerun_seats(self, request, queryset):
        from apps.orders.orchestration import seat_retry_training

        started = 0
        seats = {job.seat for job in queryset.select_related("seat") if job.seat_id}
        if len(seats) < queryset.count():
            self.message_user(
                request,
                "Jobs outside an order cannot be re-run from here.",
                level=messages.WARNING,
            )
        for seat in seats:
            try:
                started += bool(seat_retry_training(seat=seat, actor=request.user))
            except ValidationError as exc:
                self.message_user(
                    request, f"{seat}: {' '.join(exc.messages)}", level=messages.ERROR
                )
        if started:
            self.message_user(request, f"Training restarted for {started} seat(s).")


@admin.register(TrainingJob)
class TrainingJobAdmin(JobAdmin):
    list_display = (
        "public_id",
        "status",
        "subject_link",
        "workspace_link",
        "seat_link",
        "progress",
        "attempts",
        "worker_id",
        "created_at",
        "finished_at",
    )
    search_fields = (
        "public_id",
        "subject__public_id",
        "subject__user__email",
        "workspace__slug",
        "worker_id",
    )
    list_select_related = ("subject", "workspace", "seat")

    @admin.display(description="subject")
    def subject_link(self, job: TrainingJob) -> str:
        return change_link(job.subject)


@admin.register(GenerationJob)
class GenerationJobAdmin(JobAdmin):
    list_display = (
        "public_id",
        "kind",
        "status",
        "adapter_link",
        "style",
        "workspace_link",
        "seat_link",
        "count",
        "progress",
        "attempts",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "kind", "style", "created_at")
    search_fields = (
        "public_id",
        "adapter__public_id",
        "adapter__subject__public_id",
        "adapter__subject__user__email",
        "workspace__slug",
    )
    list_select_related = ("adapter", "style", "workspace", "seat")

    @admin.display(description="adapter")
    def adapter_link(self, job: GenerationJob) -> str:
        return change_link(job.adapter)
