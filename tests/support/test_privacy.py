"""The customer's privacy page: download a copy of their data, erase it (password again)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import AuditLog, User
from apps.photos.export import data_export_build, data_export_request
from apps.photos.models import DataExport
from tests.factories import DataExportFactory, UserFactory, person_with_everything
from tests.factories.accounts import PASSWORD

pytestmark = pytest.mark.django_db
PRIVACY = "/accounts/privacy/"


def download(client, export) -> bytes:
    url = reverse("accounts:privacy_export_download", kwargs={"data_export": export.public_id})
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/zip"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment")
    return b"".join(response.streaming_content)


def test_the_page_needs_a_login(client):
    response = client.get(PRIVACY)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_export_needs_the_password_and_builds_a_zip_of_the_persons_data(
    client, sent_messages, django_capture_on_commit_callbacks
):
    person = person_with_everything()
    client.force_login(person.user)
    page = client.get(PRIVACY)
    assert page.status_code == 200
    assert "Download my data" in page.text and "Erase my data" in page.text

    wrong = client.post(reverse("accounts:privacy_export"), {"password": "not it"})
    assert wrong.status_code == 200 and "password is not right" in wrong.text
    assert DataExport.unscoped.filter(user=person.user).count() == 1  # only the fixture's

    with django_capture_on_commit_callbacks(execute=True):
        ok = client.post(reverse("accounts:privacy_export"), {"password": PASSWORD})
    assert ok.status_code == 302
    export = DataExport.unscoped.filter(user=person.user, status="queued").get()
    assert sent_messages == [("build_data_export", (export.pk,))]
    # A second request while one is pending is refused in plain words.
    again = client.post(reverse("accounts:privacy_export"), {"password": PASSWORD}, follow=True)
    assert "already being prepared" in again.text

    assert data_export_build(export_id=export.pk) is True
    export.refresh_from_db()
    assert export.status == "ready" and export.file.name.startswith(f"ws/{person.home.public_id}/")
    assert export.counts == {"photos": 4, "images": 3, "orders": 1}

    archive = zipfile.ZipFile(io.BytesIO(download(client, export)))
    names = set(archive.namelist())
    assert {"README.txt", "account.json", "subjects.json", "orders.json"} <= names
    assert len([n for n in names if n.startswith("photos/")]) == 4
    assert len([n for n in names if n.startswith("images/")]) == 3
    assert json.loads(archive.read("account.json"))["email"] == person.user.email
    orders = json.loads(archive.read("orders.json"))
    assert orders["orders"][0]["order"] == str(person.order.public_id)
    assert orders["orders"][0]["amount"] == person.order.amount
    photo = next(n for n in names if n.startswith("photos/"))
    assert archive.read(photo)[:2] == b"\xff\xd8"  # the stored JPEG itself
    assert AuditLog.objects.filter(action="person.export_request").count() == 1


def test_nobody_else_downloads_an_export_and_expired_ones_are_gone(client):
    export = DataExportFactory()
    other = UserFactory()
    client.force_login(other)
    url = reverse("accounts:privacy_export_download", kwargs={"data_export": export.public_id})
    assert client.get(url).status_code == 404
    client.force_login(export.user)
    assert client.get(url).status_code == 200
    DataExport.unscoped.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(1))
    assert client.get(url).status_code == 404


def test_erase_needs_the_password_and_the_checkbox_then_logs_out(
    client, django_capture_on_commit_callbacks
):
    person = person_with_everything()
    client.force_login(person.user)
    url = reverse("accounts:privacy_erase")

    assert client.post(url, {"password": "nope", "confirm": "on"}).status_code == 200
    assert client.post(url, {"password": PASSWORD}).status_code == 200  # no checkbox
    assert User.objects.filter(pk=person.user.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:privacy_erased")
    assert not User.objects.filter(pk=person.user.pk).exists()
    assert client.get(PRIVACY).status_code == 302  # logged out
    assert client.get(response["Location"]).status_code == 200
    assert [m.to for m in mail.outbox] == [[person.user.email]]
    audit = AuditLog.objects.get(action="person.erase")
    assert audit.actor_kind == "user" and audit.details["reason"] == "customer_request"


def test_five_wrong_passwords_end_the_session(client):
    user = UserFactory()
    client.force_login(user)
    for _ in range(4):
        assert client.post("/accounts/privacy/export/", {"password": "x"}).status_code == 200
    response = client.post("/accounts/privacy/erase/", {"password": "x", "confirm": "on"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get(PRIVACY).status_code == 302
    assert User.objects.filter(pk=user.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_the_export_actor_builds_through_the_broker(stub_broker, stub_worker):
    user = UserFactory()
    from apps.accounts.services import workspace_create

    workspace_create(owner=user, name="Personal", kind="personal")
    export = data_export_request(user=user, actor=user)  # autocommit: enqueued at once
    stub_broker.join("cpu", timeout=30_000)
    stub_worker.join()
    export.refresh_from_db()
    assert export.status == "ready" and export.size_bytes > 0
