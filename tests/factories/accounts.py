from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import factory
from django.utils import timezone

from apps.accounts.models import Invitation, Membership, User, Workspace

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    full_name = factory.Faker("name")
    email_verified_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}-{secrets.token_hex(2)}")
    kind = Workspace.Kind.TEAM


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.MEMBER


def member_of(workspace: Workspace, role: str = Membership.Role.MEMBER, **user_kwargs) -> User:
    user = UserFactory(**user_kwargs)
    MembershipFactory(workspace=workspace, user=user, role=role)
    return user


class InvitationFactory(factory.django.DjangoModelFactory):
    """Pass ``token=...`` to know the raw token; it is stored hashed."""

    class Meta:
        model = Invitation
        exclude = ("token",)

    workspace = factory.SubFactory(WorkspaceFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    token = factory.LazyFunction(lambda: secrets.token_urlsafe(16))
    token_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.token.encode()).hexdigest())
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


__all__ = ["InvitationFactory", "MembershipFactory", "UserFactory", "WorkspaceFactory", "member_of"]
