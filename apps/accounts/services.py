"""Writes for accounts, workspaces, memberships and invitations."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts.models import AuditLog, Invitation, Membership, User, Workspace
from config.tasks import enqueue_on_commit

EMAIL_VERIFY_SALT = "accounts.email-verify"


def audit_record(
    *,
    actor: User | None,
    action: str,
    workspace: Workspace | None = None,
    target_type: str = "",
    target_ids: list | None = None,
    details: dict | None = None,
    actor_kind: str | None = None,
) -> AuditLog:
    """Append one audit row. Callers pass ids and counts only — never personal data."""
    kind = actor_kind or ("staff" if actor is not None and actor.is_staff else "user")
    if actor is None and actor_kind is None:
        kind = "system"
    return AuditLog.objects.create(
        actor_id=actor.pk if actor is not None else None,
        actor_kind=kind,
        action=action,
        workspace_id=workspace.pk if workspace is not None else None,
        target_type=target_type,
        target_ids=[str(t) for t in (target_ids or [])],
        details=details or {},
    )


def _unique_slug(base: str) -> str:
    base = (slugify(base) or "workspace")[:40]
    for _ in range(20):
        candidate = f"{base}-{secrets.token_hex(3)}"
        if not Workspace.objects.filter(slug=candidate).exists():
            return candidate
    return f"{base}-{secrets.token_hex(8)}"


def workspace_create(*, owner: User, name: str, kind: str = Workspace.Kind.TEAM) -> Workspace:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give your workspace a name."})
    with transaction.atomic():
        workspace = Workspace(name=name[:120], kind=kind, slug=_unique_slug(name))
        workspace.full_clean()
        workspace.save()
        Membership.objects.create(workspace=workspace, user=owner, role=Membership.Role.OWNER)
        audit_record(
            actor=owner,
            action="workspace.create",
            workspace=workspace,
            target_type="workspace",
            target_ids=[workspace.public_id],
        )
    return workspace


def user_sign_up(*, email: str, password: str, full_name: str = "") -> User:
    """Create a user with a personal workspace and send the verification email."""
    email = User.objects.normalize_email(email.strip()).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(
            {"email": "An account with this email already exists. Log in instead."}
        )
    candidate = User(email=email, full_name=full_name.strip())
    validate_password(password, user=candidate)
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, full_name=full_name)
            workspace_create(owner=user, name="Personal", kind=Workspace.Kind.PERSONAL)
    except IntegrityError as exc:  # a concurrent sign-up with the same email
        raise ValidationError(
            {"email": "An account with this email already exists. Log in instead."}
        ) from exc
    email_verification_send(user=user)
    return user


def email_verification_token(user: User) -> str:
    return signing.dumps({"u": str(user.public_id), "e": user.email}, salt=EMAIL_VERIFY_SALT)


def email_verification_send(*, user: User) -> None:
    enqueue_on_commit("send_verification_email", user.pk)


def email_verification_confirm(*, token: str) -> User:
    try:
        payload = signing.loads(
            token, salt=EMAIL_VERIFY_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE
        )
    except signing.SignatureExpired as exc:
        raise ValidationError("This verification link has expired. We can send a new one.") from exc
    except signing.BadSignature as exc:
        raise ValidationError("This verification link is not valid.") from exc
    user = User.objects.filter(public_id=payload.get("u"), email=payload.get("e")).first()
    if user is None:
        raise ValidationError("This verification link is not valid.")
    User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(
        email_verified_at=timezone.now()
    )
    user.refresh_from_db()
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_create(
    *, workspace: Workspace, invited_by: User, email: str, role: str = Membership.Role.MEMBER
) -> tuple[Invitation, str]:
    """Create an invitation and email its link. Returns (invitation, raw token)."""
    email = User.objects.normalize_email(email.strip()).lower()
    if role not in (Membership.Role.MEMBER, Membership.Role.ADMIN):
        raise ValidationError({"role": "Invite people as members or admins."})
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise ValidationError({"email": "This person is already a member of the workspace."})
    if workspace.kind == Workspace.Kind.PERSONAL:
        raise ValidationError("Personal workspaces cannot have members. Create a team workspace.")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation(
            workspace=workspace,
            email=email,
            role=role,
            token_hash=_token_hash(token),
            invited_by=invited_by,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_EXPIRY_DAYS),
        )
        invitation.full_clean()
        invitation.save()
        audit_record(
            actor=invited_by,
            action="invitation.create",
            workspace=workspace,
            target_type="invitation",
            target_ids=[invitation.public_id],
        )
        enqueue_on_commit("send_invitation_email", invitation.pk, token)
    return invitation, token


def invitation_for_token(token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("workspace", "invited_by")
        .filter(token_hash=_token_hash(token))
        .first()
    )


def invitation_accept(*, token: str, user: User) -> Membership:
    """Attach ``user`` to the invitation's workspace. Single use; the email must match."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("workspace")
            .filter(token_hash=_token_hash(token))
            .first()
        )
        if invitation is None:
            raise ValidationError("This invitation link is not valid.")
        if invitation.status == Invitation.Status.ACCEPTED:
            raise ValidationError("This invitation has already been used.")
        if invitation.status == Invitation.Status.REVOKED:
            raise ValidationError("This invitation was withdrawn. Ask for a new one.")
        if invitation.is_expired:
            raise ValidationError(
                "This invitation has expired. Ask the workspace owner for a new one."
            )
        if invitation.email.lower() != user.email.lower():
            raise ValidationError(
                "This invitation was sent to a different email address. Log out and sign in "
                "with the invited address."
            )
        membership, _ = Membership.objects.get_or_create(
            workspace=invitation.workspace, user=user, defaults={"role": invitation.role}
        )
        invitation.status = Invitation.Status.ACCEPTED
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["status", "accepted_at", "accepted_by"])
        if user.email_verified_at is None:
            # Receiving the link at that address proves it.
            User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
        # Team seats held for this address become the new member's (their upload page then
        # opens from the order). Imported here: orders builds on accounts, not the reverse.
        from apps.orders.services import seats_claim_for_member

        seats_claim_for_member(workspace=invitation.workspace, user=user)
        audit_record(
            actor=user,
            action="invitation.accept",
            workspace=invitation.workspace,
            target_type="invitation",
            target_ids=[invitation.public_id],
        )
    return membership


def invitation_revoke(*, invitation: Invitation, actor: User) -> None:
    updated = Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.PENDING).update(
        status=Invitation.Status.REVOKED
    )
    if updated:
        audit_record(
            actor=actor,
            action="invitation.revoke",
            workspace=invitation.workspace,
            target_type="invitation",
            target_ids=[invitation.public_id],
        )


def membership_remove(*, membership: Membership, actor: User) -> None:
    if membership.role == Membership.Role.OWNER:
        raise ValidationError("The owner cannot be removed from the workspace.")
    with transaction.atomic():
        membership.delete()
        audit_record(
            actor=actor,
            action="membership.remove",
            workspace=membership.workspace,
            target_type="user",
            target_ids=[membership.user.public_id],
        )


def email_verification_deliver(*, user_id: int) -> bool:
    """Send the confirmation email (called by the worker). False when there is nothing to do."""
    from apps.accounts.emails import absolute_url, send_templated_email

    user = User.objects.filter(pk=user_id, is_active=True, email_verified_at__isnull=True).first()
    if user is None:
        return False
    link = absolute_url("accounts:verify_email", token=email_verification_token(user))
    send_templated_email(
        to=user.email, template="verify_email", context={"user": user, "link": link}
    )
    return True


def invitation_deliver(*, invitation_id: int, token: str) -> bool:
    from apps.accounts.emails import absolute_url, send_templated_email

    invitation = (
        Invitation.objects.select_related("workspace", "invited_by")
        .filter(pk=invitation_id, status=Invitation.Status.PENDING)
        .first()
    )
    if invitation is None or invitation.token_hash != _token_hash(token):
        return False
    link = absolute_url("accounts:invitation_accept", token=token)
    send_templated_email(
        to=invitation.email,
        template="invitation",
        context={"invitation": invitation, "link": link},
    )
    return True
