"""Subjects (the people we learn), their uploaded photos, and the images we generate of them.

``Subject`` lives here because a subject *is* a set of photos of one person with a reference
face embedding: the photo checks read and write it, and models/orders only point at it.
``GeneratedImage`` lives here too: every image file of a person — uploads and outputs — is then
served, moderated, purged and erased by one app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.accounts.tenancy import TenantModel
from apps.photos.storage_keys import (
    exports_upload_to,
    faces_upload_to,
    generated_upload_to,
    originals_upload_to,
    photos_upload_to,
    thumbs_upload_to,
)


class Subject(TenantModel):
    """One person whose likeness we learn (in a team order, every member is a subject)."""

    display_name = models.CharField(max_length=120)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="subjects",
    )
    consent_given_at = models.DateTimeField(null=True, blank=True)
    consent_given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    consent_version = models.CharField(max_length=20, blank=True)
    # Robust mean of the accepted photos' 128-d face embeddings (None until one is accepted).
    reference_embedding = models.JSONField(null=True, blank=True)
    trained_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "created_at"])]

    def __str__(self) -> str:
        return f"Subject {self.public_id}"


class Photo(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Checking"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="photos")
    original = models.FileField(upload_to=originals_upload_to, max_length=200, blank=True)
    original_name = models.CharField(max_length=120, blank=True)
    image = models.FileField(upload_to=photos_upload_to, max_length=200, blank=True)
    face_crop = models.FileField(upload_to=faces_upload_to, max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    pixel_hash = models.CharField(max_length=64, blank=True)
    phash = models.BigIntegerField(null=True, blank=True)  # 64-bit perceptual hash, signed
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    face_box = models.JSONField(null=True, blank=True)  # [left, top, right, bottom]
    embedding = models.JSONField(null=True, blank=True)  # 128 floats
    metrics = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reasons = models.JSONField(default=list, blank=True)
    uploaded_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)
    purge_after = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "subject", "status"]),
            models.Index(fields=["workspace", "purge_after"]),
        ]

    def __str__(self) -> str:
        return f"Photo {self.public_id}"


class GeneratedImage(TenantModel):
    class Moderation(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        HELD = "held", "Held for review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class HoldReason(models.TextChoices):
        NONE = "", "—"
        NO_FACE = "no_face", "No face found"
        LOW_LIKENESS = "low_likeness", "Below the likeness threshold"
        REPORTED = "reported", "Reported by the customer"

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="generated_images")
    generation_job = models.ForeignKey(
        "ml.GenerationJob",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="images",
    )
    style = models.ForeignKey("ml.Style", on_delete=models.SET_NULL, null=True, blank=True)
    adapter = models.ForeignKey("ml.LoraAdapter", on_delete=models.SET_NULL, null=True, blank=True)
    image = models.FileField(upload_to=generated_upload_to, max_length=200, blank=True)
    thumbnail = models.FileField(upload_to=thumbs_upload_to, max_length=200, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    seed = models.BigIntegerField()
    prompt = models.TextField()
    negative_prompt = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    face_found = models.BooleanField(default=False)
    likeness_distance = models.FloatField(null=True, blank=True)  # lower is more alike
    moderation_status = models.CharField(
        max_length=10, choices=Moderation.choices, default=Moderation.HELD
    )
    hold_reason = models.CharField(max_length=20, choices=HoldReason.choices, blank=True)
    moderation_note = models.CharField(max_length=200, blank=True)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    moderated_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replaces"
    )
    is_favourite = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    purge_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "subject", "moderation_status"]),
            models.Index(fields=["workspace", "created_at"]),
            models.Index(fields=["workspace", "purge_after"]),
        ]

    def __str__(self) -> str:
        return f"Image {self.public_id}"

    @property
    def visible_to_customer(self) -> bool:
        return self.moderation_status in (self.Moderation.DELIVERED, self.Moderation.APPROVED)


# --- Support: moderation queue and personal-data exports (owned by the support engineer) ------


class HeldImage(GeneratedImage):
    """The moderation queue: generated images held for review (no face, low likeness or
    reported by the customer). A proxy, so the queue is its own admin page and permission;
    the admin filters it to moderation_status=held (the row keeps its class when it leaves)."""

    class Meta:
        proxy = True
        verbose_name = "held image"
        verbose_name_plural = "moderation queue"


class DataExport(TenantModel):
    """A person's copy of their data (GDPR Art. 15/20): one zip of their photos, generated images
    and order history. ``workspace`` is the person's home workspace (keys ws/<uuid>/exports/)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        BUILDING = "building", "Being prepared"
        READY = "ready", "Ready to download"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_exports"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    file = models.FileField(upload_to=exports_upload_to, max_length=200, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status__in=["queued", "building"]),
                name="one_pending_export_per_user",
            )
        ]
        indexes = [models.Index(fields=["workspace", "created_at"])]

    def __str__(self) -> str:
        return f"Export {self.public_id}"
