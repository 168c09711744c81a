from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.accounts import selectors, services
from apps.accounts.models import AuditLog, Invitation, Membership, User, Workspace
from tests.factories import InvitationFactory, UserFactory, WorkspaceFactory, member_of

pytestmark = pytest.mark.django_db


def test_sign_up_creates_user_personal_workspace_and_queues_verification(
    django_capture_on_commit_callbacks, stub_broker
):
    with django_capture_on_commit_callbacks(execute=True):
        user = services.user_sign_up(
            email="Ada@Example.com", password="a-long-passphrase-42", full_name="Ada"
        )
    assert user.email == "ada@example.com"
    assert user.check_password("a-long-passphrase-42")
    workspace = selectors.personal_workspace(user)
    assert workspace is not None and workspace.kind == Workspace.Kind.PERSONAL
    assert Membership.objects.get(user=user).role == Membership.Role.OWNER
    messages = stub_broker.queues["default"].queue
    assert [m for m in list(messages) if b"send_verification_email" in m]


def test_sign_up_with_existing_email_any_case_is_refused():
    UserFactory(email="taken@example.com")
    with pytest.raises(ValidationError) as exc:
        services.user_sign_up(email="TAKEN@example.com", password="a-long-passphrase-42")
    assert "already exists" in str(exc.value)
    assert User.objects.count() == 1


@pytest.mark.parametrize("password", ["short", "password123", "1234567890123"])
def test_sign_up_with_weak_password_is_refused_and_creates_nothing(password):
    with pytest.raises(ValidationError):
        services.user_sign_up(email="new@example.com", password=password)
    assert not User.objects.exists()
    assert not Workspace.objects.exists()


def test_email_verification_round_trip_and_tampering():
    user = UserFactory(email_verified_at=None)
    token = services.email_verification_token(user)
    with pytest.raises(ValidationError):
        services.email_verification_confirm(token=token[:-2] + "xx")
    assert services.email_verification_confirm(token=token).email_verified


def test_invitation_accept_attaches_user_once(owner, workspace):
    invitee = UserFactory(email="new.hire@example.com")
    invitation, token = services.invitation_create(
        workspace=workspace, invited_by=owner, email="New.Hire@example.com"
    )
    assert invitation.token_hash != token  # only the hash is stored
    membership = services.invitation_accept(token=token, user=invitee)
    assert membership.workspace == workspace and membership.role == Membership.Role.MEMBER
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    with pytest.raises(ValidationError, match="already been used"):
        services.invitation_accept(token=token, user=invitee)
    assert Membership.objects.filter(workspace=workspace, user=invitee).count() == 1
    assert AuditLog.objects.filter(action="invitation.accept").count() == 1


def test_expired_invitation_is_refused():
    invitation = InvitationFactory(
        token="tok-expired", expires_at=timezone.now() - timedelta(minutes=1)
    )
    user = UserFactory(email=invitation.email)
    with pytest.raises(ValidationError, match="expired"):
        services.invitation_accept(token="tok-expired", user=user)
    assert not Membership.objects.filter(user=user).exists()


def test_invitation_for_a_different_email_is_refused():
    invitation = InvitationFactory(token="tok-other")
    stranger = UserFactory()
    with pytest.raises(ValidationError, match="different email"):
        services.invitation_accept(token="tok-other", user=stranger)
    assert not Membership.objects.filter(user=stranger, workspace=invitation.workspace).exists()


def test_revoked_invitation_is_refused(owner, workspace):
    invitation, token = services.invitation_create(
        workspace=workspace, invited_by=owner, email="x@example.com"
    )
    services.invitation_revoke(invitation=invitation, actor=owner)
    with pytest.raises(ValidationError, match="withdrawn"):
        services.invitation_accept(token=token, user=UserFactory(email="x@example.com"))


def test_personal_workspace_cannot_invite():
    personal = WorkspaceFactory(kind=Workspace.Kind.PERSONAL)
    owner = member_of(personal, role="owner")
    with pytest.raises(ValidationError):
        services.invitation_create(workspace=personal, invited_by=owner, email="a@example.com")


def test_owner_cannot_be_removed(owner, workspace):
    membership = Membership.objects.get(user=owner, workspace=workspace)
    with pytest.raises(ValidationError):
        services.membership_remove(membership=membership, actor=owner)


def test_audit_rows_hold_no_personal_data(owner, workspace):
    services.invitation_create(workspace=workspace, invited_by=owner, email="secret@example.com")
    for row in AuditLog.objects.all():
        blob = f"{row.target_ids} {row.details} {row.action}"
        assert "secret@example.com" not in blob and owner.email not in blob
