import pytest
from django.core import mail
from django.urls import reverse

from apps.accounts.models import Membership, User
from tests.factories import InvitationFactory, UserFactory, member_of
from tests.factories.accounts import PASSWORD

pytestmark = pytest.mark.django_db


def test_landing_and_pricing_render(client):
    assert client.get("/").status_code == 200
    assert client.get(reverse("orders:pricing")).status_code == 200


def test_sign_up_logs_in_and_lands_on_dashboard(client, stub_broker):
    response = client.post(
        reverse("accounts:signup"),
        {"email": "new@example.com", "password": "a-long-passphrase-42", "full_name": "New"},
        follow=True,
    )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("accounts:dashboard")
    assert b"Personal" in response.content


def test_sign_up_existing_email_shows_message_not_500(client):
    UserFactory(email="taken@example.com")
    response = client.post(
        reverse("accounts:signup"),
        {"email": "taken@example.com", "password": "a-long-passphrase-42"},
    )
    assert response.status_code == 200
    assert b"already exists" in response.content
    assert User.objects.count() == 1


def test_weak_password_shows_message(client):
    response = client.post(
        reverse("accounts:signup"), {"email": "a@example.com", "password": "abc"}
    )
    assert response.status_code == 200
    assert b"too short" in response.content


def test_login_with_email_and_logout(client):
    user = UserFactory()
    response = client.post(
        reverse("accounts:login"), {"username": user.email, "password": PASSWORD}, follow=True
    )
    assert response.context["user"].is_authenticated
    client.post(reverse("accounts:logout"))
    assert not client.get(reverse("accounts:dashboard")).wsgi_request.user.is_authenticated


def test_password_reset_sends_email(client):
    user = UserFactory()
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    assert len(mail.outbox) == 1 and "/accounts/reset/" in mail.outbox[0].body


def test_workspace_page_needs_login_then_membership(client, workspace, owner):
    url = reverse("accounts:workspace_settings", kwargs={"workspace": workspace.slug})
    assert client.get(url).status_code == 302
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.force_login(owner)
    assert client.get(url).status_code == 200


def test_member_cannot_invite(client, workspace):
    member = member_of(workspace)
    client.force_login(member)
    url = reverse("accounts:invitation_create", kwargs={"workspace": workspace.slug})
    assert client.post(url, {"email": "x@example.com", "role": "member"}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_invitation_flow_through_the_pages(client, workspace, owner, stub_worker, stub_broker):
    client.force_login(owner)
    client.post(
        reverse("accounts:invitation_create", kwargs={"workspace": workspace.slug}),
        {"email": "colleague@example.com", "role": "member"},
    )
    stub_broker.join("default")
    stub_worker.join()
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/invitations/" in line)
    path = link[link.index("/invitations/") :].strip()

    colleague = UserFactory(email="colleague@example.com")
    client.force_login(colleague)
    assert b"Accept invitation" in client.get(path).content
    client.post(path)
    assert Membership.objects.filter(workspace=workspace, user=colleague).exists()
    # used twice: a clear message, no second membership
    response = client.get(path)
    assert b"already been used" in response.content


def test_invitation_opened_by_a_different_logged_in_user(client):
    invitation = InvitationFactory(token="tok-view")
    other = UserFactory()
    client.force_login(other)
    response = client.get(reverse("accounts:invitation_accept", kwargs={"token": "tok-view"}))
    assert response.status_code == 200 and b"different email address" in response.content
    client.post(reverse("accounts:invitation_accept", kwargs={"token": "tok-view"}))
    assert not Membership.objects.filter(user=other, workspace=invitation.workspace).exists()


def test_unknown_invitation_token_is_404(client):
    assert (
        client.get(reverse("accounts:invitation_accept", kwargs={"token": "nope"})).status_code
        == 404
    )


def test_create_team_workspace(client, user):
    client.force_login(user)
    response = client.post(reverse("accounts:workspace_create"), {"name": "Acme Corp"}, follow=True)
    assert response.status_code == 200
    assert Membership.objects.get(user=user, workspace__name="Acme Corp").role == "owner"
