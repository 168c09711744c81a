"""Support site: subjects, photos, generated images, the moderation queue and data exports.

Thumbnails come from admin-only views (``<pk>/file/<variant>/``) wrapped in ``admin_view`` plus
the model's view permission, streaming the bytes with nosniff — never a storage URL. Every row
is read-only; moderation and erasure are actions that call services.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from apps.accounts.admin_tools import (
    SupportModelAdmin,
    change_link,
    changelist_link,
    confirm_action,
    erase_action,
    img_tag,
    stream_file,
)
from apps.photos import moderation
from apps.photos.models import DataExport, GeneratedImage, HeldImage, Photo, Subject


class FileViewMixin:
    """Adds ``<pk>/file/<variant>/``: a permission-checked stream of one of the row's files."""

    file_variants: dict[str, str] = {}  # variant → FileField name

    def get_urls(self):
        opts = self.model._meta
        custom = [
            path(
                "<path:object_id>/file/<str:variant>/",
                self.admin_site.admin_view(self.file_view),
                name=f"{opts.app_label}_{opts.model_name}_file",
            )
        ]
        return custom + super().get_urls()

    def file_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def fieldfile_for(self, obj, variant: str):
        field_name = self.file_variants.get(variant)
        return getattr(obj, field_name) if field_name else None

    def file_view(self, request, object_id: str, variant: str):
        if not self.file_permission(request):
            raise PermissionDenied
        obj = get_object_or_404(self.model._base_manager, pk=object_id)
        return stream_file(self.fieldfile_for(obj, variant))

    def file_url(self, obj, variant: str) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_file", args=[obj.pk, variant])


@admin.register(Subject)
class SubjectAdmin(SupportModelAdmin):
    list_display = (
        "public_id",
        "display_name",
        "workspace_link",
        "user_link",
        "photo_count",
        "created_at",
        "trained_at",
    )
    list_filter = ("created_at", "trained_at", "workspace__kind")
    search_fields = (
        "public_id",
        "display_name",
        "user__email",
        "user__public_id",
        "workspace__slug",
        "workspace__public_id",
    )
    list_select_related = ("workspace", "user")
    exclude = ("reference_embedding",)
    readonly_fields = ("reference_face", "related")
    actions = ["erase_subjects"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(photo_total=Count("photos"))

    @admin.display(description="photos", ordering="photo_total")
    def photo_count(self, subject: Subject) -> int:
        return subject.photo_total

    @admin.display(description="user")
    def user_link(self, subject: Subject) -> str:
        return change_link(subject.user)

    @admin.display(description="reference face embedding")
    def reference_face(self, subject: Subject) -> str:
        return "stored" if subject.reference_embedding else "none yet"

    @admin.display(description="related")
    def related(self, subject: Subject) -> str:
        from apps.models.models import GenerationJob, LoraAdapter, TrainingJob
        from apps.orders.models import Seat

        seat = Seat.unscoped.filter(subject=subject).select_related("order").first()
        key = {"subject__id__exact": subject.pk}
        return format_html(
            "{} · {} · {} · {} · {} · seat: {} · order: {}",
            changelist_link(Photo, "photos", **key),
            changelist_link(GeneratedImage, "generated images", **key),
            changelist_link(LoraAdapter, "adapters", **key),
            changelist_link(TrainingJob, "training jobs", **key),
            changelist_link(GenerationJob, "generation jobs", q=str(subject.public_id)),
            change_link(seat),
            change_link(seat.order if seat else None),
        )

    @admin.action(description="Erase selected subjects' data (GDPR)", permissions=["erase"])
    def erase_subjects(self, request, queryset):
        from apps.photos.erasure import person_erase

        return erase_action(
            self,
            request,
            queryset,
            erase=lambda subject, actor, reason: person_erase(
                subject=subject, actor=actor, reason=reason
            ),
        )


@admin.register(Photo)
class PhotoAdmin(FileViewMixin, SupportModelAdmin):
    file_variants = {"image": "image", "face": "face_crop"}
    list_display = (
        "thumb",
        "public_id",
        "subject_link",
        "workspace_link",
        "status",
        "uploaded_at",
        "purge_after",
        "purged_at",
    )
    list_filter = ("status", "uploaded_at", "purge_after", "purged_at")
    search_fields = (
        "public_id",
        "subject__public_id",
        "subject__user__email",
        "workspace__slug",
        "sha256",
    )
    list_select_related = ("subject", "workspace")
    date_hierarchy = "uploaded_at"
    # The face embedding and the raw original are not for display.
    exclude = ("embedding", "original", "original_name")
    readonly_fields = ("preview",)

    @admin.display(description="")
    def thumb(self, photo: Photo) -> str:
        if photo.face_crop:
            return img_tag(self.file_url(photo, "face"), 64, "face crop")
        if photo.image:
            return img_tag(self.file_url(photo, "image"), 64, "photo")
        return "—"

    @admin.display(description="preview")
    def preview(self, photo: Photo) -> str:
        if not photo.image:
            return "no stored image"
        return img_tag(self.file_url(photo, "image"), 320, "photo")

    @admin.display(description="subject")
    def subject_link(self, photo: Photo) -> str:
        return change_link(photo.subject)


class RejectForm(forms.Form):
    reason = forms.ChoiceField(choices=moderation.REJECT_REASONS)


class ModerationActionsMixin:
    @admin.action(description="Approve: show to the customer", permissions=["moderate"])
    def approve_images(self, request, queryset):
        approved = sum(
            moderation.image_approve(image=image, actor=request.user) for image in queryset
        )
        self.message_user(request, f"Approved {approved} image(s).")
        skipped = queryset.count() - approved
        if skipped > 0:
            self.message_user(request, f"{skipped} were not held any more.", level=messages.WARNING)

    @admin.action(description="Reject and make a free replacement", permissions=["moderate"])
    def reject_images(self, request, queryset):
        def apply(data):
            rejected = replaced = 0
            for image in queryset.select_related("generation_job"):
                try:
                    job = moderation.image_reject(
                        image=image, actor=request.user, reason=data["reason"]
                    )
                except ValidationError as exc:
                    self.message_user(request, " ".join(exc.messages), level=messages.ERROR)
                    continue
                image.refresh_from_db(fields=["moderation_status"])
                if image.moderation_status == GeneratedImage.Moderation.REJECTED:
                    rejected += 1
                replaced += job is not None
            self.message_user(
                request, f"Rejected {rejected} image(s); {replaced} replacement(s) queued."
            )

        return confirm_action(
            self,
            request,
            queryset,
            form_class=RejectForm,
            title="Reject images",
            intro=(
                "Rejected images stay hidden from the customer. Each gets one replacement "
                "from the same trained model and style, at no cost to the customer."
            ),
            button="Reject",
            apply=apply,
        )


@admin.register(GeneratedImage)
class GeneratedImageAdmin(ModerationActionsMixin, FileViewMixin, SupportModelAdmin):
    file_variants = {"full": "image", "thumb": "thumbnail"}
    thumb_size = 64
    list_display = (
        "thumb",
        "public_id",
        "subject_link",
        "workspace_link",
        "style",
        "moderation_status",
        "hold_reason",
        "likeness_distance",
        "created_at",
    )
    list_filter = ("moderation_status", "hold_reason", "created_at", "style")
    search_fields = (
        "public_id",
        "subject__public_id",
        "subject__user__email",
        "workspace__slug",
        "generation_job__public_id",
    )
    list_select_related = ("subject", "workspace", "style")
    date_hierarchy = "created_at"
    readonly_fields = ("preview", "reference", "related")
    actions = ["approve_images", "reject_images"]

    def fieldfile_for(self, obj, variant: str):
        if variant == "reference":
            photo = moderation.reference_photo_for(obj.subject)
            return photo.face_crop if photo else None
        if variant == "thumb" and not obj.thumbnail:
            return obj.image
        return super().fieldfile_for(obj, variant)

    @admin.display(description="")
    def thumb(self, image: GeneratedImage) -> str:
        if not image.image:
            return "—"
        return img_tag(self.file_url(image, "thumb"), self.thumb_size, "generated image")

    @admin.display(description="image")
    def preview(self, image: GeneratedImage) -> str:
        if not image.image:
            return "no stored image"
        return img_tag(self.file_url(image, "full"), 384, "generated image")

    @admin.display(description="reference photo")
    def reference(self, image: GeneratedImage) -> str:
        if moderation.reference_photo_for(image.subject) is None:
            return "no accepted photo left"
        return img_tag(self.file_url(image, "reference"), 192, "reference face")

    @admin.display(description="subject")
    def subject_link(self, image: GeneratedImage) -> str:
        return change_link(image.subject)

    @admin.display(description="related")
    def related(self, image: GeneratedImage) -> str:
        return format_html(
            "job: {} · adapter: {} · replaced by: {}",
            change_link(image.generation_job),
            change_link(image.adapter),
            change_link(image.replaced_by),
        )


@admin.register(HeldImage)
class HeldImageAdmin(GeneratedImageAdmin):
    """The moderation queue: large thumbnails beside the subject's reference face."""

    thumb_size = 256
    list_display = (
        "thumb",
        "reference_thumb",
        "subject_link",
        "workspace_link",
        "hold_reason",
        "likeness_distance",
        "style",
        "created_at",
    )
    list_filter = ("hold_reason", "created_at", "style")
    list_per_page = 20
    ordering = ("created_at", "pk")  # oldest first: a queue

    def get_queryset(self, request):
        return super().get_queryset(request).filter(moderation_status=HeldImage.Moderation.HELD)

    @admin.display(description="reference photo")
    def reference_thumb(self, image: GeneratedImage) -> str:
        if moderation.reference_photo_for(image.subject) is None:
            return "no accepted photo left"
        return img_tag(self.file_url(image, "reference"), 160, "reference face")


@admin.register(DataExport)
class DataExportAdmin(FileViewMixin, SupportModelAdmin):
    file_variants = {"zip": "file"}
    list_display = (
        "public_id",
        "user_link",
        "status",
        "size_bytes",
        "created_at",
        "expires_at",
        "download",
    )
    list_filter = ("status", "created_at")
    search_fields = ("public_id", "user__email", "workspace__slug")
    list_select_related = ("user",)
    exclude = ("file",)
    readonly_fields = ("download",)

    def file_permission(self, request) -> bool:
        # Downloading someone's whole data set is a capability, not just "view".
        return self.has_export_permission(request)

    @admin.display(description="user")
    def user_link(self, export: DataExport) -> str:
        return change_link(export.user)

    @admin.display(description="download")
    def download(self, export: DataExport) -> str:
        if not export.file:
            return "—"
        return format_html('<a href="{}">zip</a>', self.file_url(export, "zip"))
