"""Reads for accounts and workspaces."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import Invitation, Membership, User, Workspace


def memberships_for_user(user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user)
        .select_related("workspace")
        .order_by("workspace__kind", "workspace__created_at")
    )


def membership_for_slug(*, user: User, slug: str) -> Membership | None:
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("workspace")
        .filter(user=user, workspace__slug=slug)
        .first()
    )


def personal_workspace(user: User) -> Workspace | None:
    membership = (
        Membership.objects.filter(
            user=user, role=Membership.Role.OWNER, workspace__kind=Workspace.Kind.PERSONAL
        )
        .select_related("workspace")
        .first()
    )
    return membership.workspace if membership else None


def workspace_members(workspace: Workspace) -> QuerySet[Membership]:
    return workspace.memberships.select_related("user").order_by("created_at")


def pending_invitations(workspace: Workspace) -> QuerySet[Invitation]:
    return workspace.invitations.filter(status=Invitation.Status.PENDING).order_by("-created_at")
