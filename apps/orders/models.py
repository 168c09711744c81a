"""Packages, orders and seats, the append-only credit ledger, and stored Stripe events."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.accounts.tenancy import TenantModel
from apps.photos.storage_keys import exports_upload_to


class Package(models.Model):
    """What a customer buys. Prices in integer minor units; editable by staff."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    per_seat = models.BooleanField(default=False)  # team packages are priced per seat
    price_amount = models.PositiveIntegerField()  # minor units (cents), per seat if per_seat
    currency = models.CharField(max_length=3, default="usd")
    images_per_seat = models.PositiveIntegerField()
    styles_count = models.PositiveIntegerField()
    reroll_credits = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "price_amount"]

    def __str__(self) -> str:
        return self.name


class Order(TenantModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Waiting for photos and payment"
        AWAITING_PAYMENT = "awaiting_payment", "Waiting for payment"
        PAID = "paid", "Paid"
        PROCESSING = "processing", "In progress"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Needs attention"
        REFUNDED = "refunded", "Refunded"
        DISPUTED = "disputed", "Disputed"
        CANCELLED = "cancelled", "Cancelled"

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders",
    )
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="orders")
    seats = models.PositiveIntegerField(default=1)
    styles = models.ManyToManyField("ml.Style", related_name="+", blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    amount = models.PositiveIntegerField()  # minor units, total
    currency = models.CharField(max_length=3)
    checkout_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    # The open Checkout Session is reused until it expires; each new one is a new attempt, and
    # the attempt number goes into the idempotency key sent to Stripe.
    checkout_attempts = models.PositiveIntegerField(default=0)
    checkout_url = models.URLField(max_length=1000, blank=True)
    checkout_expires_at = models.DateTimeField(null=True, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    refunded_amount = models.PositiveIntegerField(default=0)
    disputed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    anonymised_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "status"]),
            models.Index(fields=["workspace", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"Order {self.public_id}"


class Seat(TenantModel):
    """One person's place in an order: their subject, photos, training and images."""

    class Status(models.TextChoices):
        WAITING_PHOTOS = "waiting_photos", "Waiting for photos"
        READY = "ready", "Ready"
        TRAINING = "training", "Training"
        GENERATING = "generating", "Generating"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Needs attention"
        CANCELLED = "cancelled", "Cancelled"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="seat_set")
    subject = models.OneToOneField(
        "photos.Subject", on_delete=models.SET_NULL, null=True, blank=True, related_name="seat"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    invited_email = models.EmailField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.WAITING_PHOTOS)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "order", "status"])]

    def __str__(self) -> str:
        return f"Seat {self.public_id}"


class CreditLedger(TenantModel):
    """Append-only: re-roll credits granted, spent, refunded or adjusted. Never updated."""

    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        REROLL = "reroll", "Re-roll"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"
        REPLACEMENT = "replacement", "Moderation replacement"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    credits = models.IntegerField()  # +granted / -spent
    reference = models.CharField(max_length=120, blank=True)  # our id or Stripe id: idempotency
    actor_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(kind="purchase"),
                name="one_purchase_entry_per_order",
            ),
            models.UniqueConstraint(
                fields=["order", "kind", "reference"],
                condition=~models.Q(reference=""),
                name="ledger_reference_unique",
            ),
        ]
        indexes = [models.Index(fields=["workspace", "order", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.credits:+d}"


class StripeEvent(models.Model):
    """Every webhook event, stored by its unique Stripe id and processed exactly once."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"
        # A refund or dispute that arrived before we knew its payment: applied when the
        # checkout.session.completed event for that payment intent is processed.
        DEFERRED = "deferred", "Waiting for its payment"

    stripe_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    livemode = models.BooleanField(default=False)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"


class ZipExport(TenantModel):
    """A "download all" zip of an order's visible portraits, built by a cpu actor."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting"
        RUNNING = "running", "Preparing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=exports_upload_to, max_length=200, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "order", "created_at"])]

    def __str__(self) -> str:
        return f"ZipExport {self.public_id}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.READY:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))
