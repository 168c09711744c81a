"""Base-model and style registries, per-tenant LoRA adapters, and the GPU jobs."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.accounts.tenancy import TenantModel
from apps.photos.storage_keys import adapters_upload_to


class Family(models.TextChoices):
    SDXL = "sdxl", "SDXL"
    FLUX = "flux", "FLUX"


class BaseModel(models.Model):
    """A diffusers directory on local disk. Loaded with local_files_only; never fetched."""

    name = models.CharField(max_length=80, unique=True)
    family = models.CharField(max_length=10, choices=Family.choices)
    path = models.CharField(max_length=500)
    revision = models.CharField(max_length=64)  # sha256 of model_index.json
    train_defaults = models.JSONField(default=dict, blank=True)
    inference_defaults = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_base"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.family})"


class Style(models.Model):
    """A portrait style: prompt template with a {subject} placeholder; editable by staff."""

    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.CharField(max_length=200, blank=True)
    prompt_template = models.TextField()
    negative_prompt = models.TextField(blank=True)
    backdrop = models.CharField(max_length=120, blank=True)
    outfit = models.CharField(max_length=120, blank=True)
    lighting = models.CharField(max_length=120, blank=True)
    # Per-family overrides, e.g. {"sdxl": {"guidance": 6.0, "steps": 30}, "flux": {...}}.
    parameters = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class LoraAdapter(TenantModel):
    subject = models.ForeignKey("photos.Subject", on_delete=models.CASCADE, related_name="adapters")
    base_model = models.ForeignKey(BaseModel, on_delete=models.PROTECT, related_name="adapters")
    version = models.PositiveIntegerField()
    file = models.FileField(upload_to=adapters_upload_to, max_length=200)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    rank = models.PositiveIntegerField()
    steps = models.PositiveIntegerField()
    trigger_token = models.CharField(max_length=40)
    class_word = models.CharField(max_length=40, default="person")
    training_config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    purge_after = models.DateTimeField(null=True, blank=True)
    # Set when the retention purge deleted the file; the row stays as history.
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "base_model", "version"], name="adapter_version_unique"
            )
        ]
        indexes = [models.Index(fields=["workspace", "subject", "created_at"])]

    def __str__(self) -> str:
        return f"Adapter {self.public_id} v{self.version}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Job(TenantModel):
    """State shared by the GPU jobs; changed only by guarded updates in services."""

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress_step = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker_id = models.CharField(max_length=120, blank=True)
    error = models.CharField(max_length=300, blank=True)  # shown to customers: plain words
    error_detail = models.TextField(blank=True)  # for support: no personal data
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        default_manager_name = "unscoped"
        base_manager_name = "unscoped"

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_step / self.progress_total))


class TrainingJob(Job):
    subject = models.ForeignKey(
        "photos.Subject", on_delete=models.CASCADE, related_name="training_jobs"
    )
    base_model = models.ForeignKey(BaseModel, on_delete=models.PROTECT, related_name="+")
    seat = models.ForeignKey(
        "orders.Seat",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="training_jobs",
    )
    config = models.JSONField(default=dict, blank=True)
    loss = models.FloatField(null=True, blank=True)
    resumed_from_step = models.PositiveIntegerField(default=0)
    adapter = models.OneToOneField(
        LoraAdapter, on_delete=models.SET_NULL, null=True, blank=True, related_name="training_job"
    )

    class Meta(Job.Meta):
        indexes = [
            models.Index(fields=["workspace", "status"]),
            models.Index(fields=["workspace", "subject"]),
        ]
        constraints = [
            # Asking twice to train the same person (a duplicate message, a double click)
            # returns the job already under way instead of training twice.
            models.UniqueConstraint(
                fields=["subject"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_training_per_subject",
            )
        ]

    def __str__(self) -> str:
        return f"TrainingJob {self.public_id}"


class GenerationJob(Job):
    class Kind(models.TextChoices):
        INITIAL = "initial", "Initial"
        REROLL = "reroll", "Re-roll"
        REPLACEMENT = "replacement", "Replacement"

    adapter = models.ForeignKey(
        LoraAdapter, on_delete=models.CASCADE, related_name="generation_jobs"
    )
    style = models.ForeignKey(Style, on_delete=models.PROTECT, related_name="+")
    seat = models.ForeignKey(
        "orders.Seat",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="generation_jobs",
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INITIAL)
    count = models.PositiveIntegerField()
    seed_base = models.BigIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)

    class Meta(Job.Meta):
        indexes = [
            models.Index(fields=["workspace", "status"]),
            models.Index(fields=["workspace", "seat"]),
        ]

    def __str__(self) -> str:
        return f"GenerationJob {self.public_id}"
