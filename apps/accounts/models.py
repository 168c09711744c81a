from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required")
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with their email address."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    date_joined = models.DateTimeField(default=timezone.now)
    erased_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email.split("@")[0]

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class Workspace(models.Model):
    """The tenant. A personal one is made at sign-up; teams create more."""

    class Kind(models.TextChoices):
        PERSONAL = "personal", "Personal"
        TEAM = "team", "Team"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERSONAL)
    created_at = models.DateTimeField(default=timezone.now)
    # Per-workspace retention overrides (days); null means the site default from settings.
    photo_retention_days = models.PositiveIntegerField(null=True, blank=True)
    photo_retention_after_training_days = models.PositiveIntegerField(null=True, blank=True)
    # A team's locked company style (a Style slug); empty for personal workspaces.
    team_style_slugs = models.JSONField(default=list, blank=True)

    members = models.ManyToManyField(User, through="Membership", related_name="workspaces")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.workspace_id} ({self.role})"

    @property
    def can_manage(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class Invitation(models.Model):
    """A single-use, expiring invitation to join a workspace."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    # Only a sha256 of the token is stored: a database leak does not leak usable links.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["workspace", "status"])]

    def __str__(self) -> str:
        return f"Invitation {self.public_id}"

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at


class AuditLog(models.Model):
    """Append-only trail of changes to money, access and personal data. Holds ids and counts,
    never names, emails or photos."""

    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_kind = models.CharField(max_length=20, default="user")  # user, staff, system, stripe
    action = models.CharField(max_length=80)
    workspace_id = models.BigIntegerField(null=True, blank=True)
    target_type = models.CharField(max_length=80, blank=True)
    target_ids = models.JSONField(default=list, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["workspace_id", "created_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type} {self.target_ids}"


class SupportCapability(models.Model):
    """Holds the support team's custom permissions; it has no table and no rows.

    Grouping them here keeps every support capability under one content type
    (``accounts.<codename>``) instead of scattering them over other apps' models.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("moderate_images", "Can approve or reject held images"),
            ("refund_orders", "Can refund orders"),
            ("rerun_jobs", "Can re-run or cancel training and generation jobs"),
            ("erase_persons", "Can erase a person's data (GDPR Art. 17)"),
            ("export_persons", "Can export a person's data (GDPR Art. 15/20)"),
        ]

    def __str__(self) -> str:
        return "support capabilities"


class ErasureRecord(models.Model):
    """Proof that a person's data was erased. Holds keyed digests of the erased ids and
    counts only: no names, emails or raw ids, so the record itself cannot point at the person,
    yet support can check "was subject X erased?" by computing X's digest."""

    class Scope(models.TextChoices):
        USER = "user", "Account and all its data"
        SUBJECT = "subject", "One subject's data"

    class Reason(models.TextChoices):
        CUSTOMER_REQUEST = "customer_request", "The person asked in their account settings"
        SUPPORT_REQUEST = "support_request", "The person asked support"
        LEGAL = "legal", "Legal obligation or authority request"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_kind = models.CharField(max_length=20, default="user")
    user_digest = models.CharField(max_length=64, blank=True)
    subject_digests = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"Erasure {self.public_id}"
