"""Consent for team seats: a team order's subjects wait for the person (or whoever uploads for
them) to consent on the upload page; uploads are refused until then."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.urls import reverse

from apps.accounts.models import AuditLog, Membership, Workspace
from apps.orders import services as order_services
from apps.photos import services
from apps.photos.models import Photo, Subject
from tests.factories import (
    PackageFactory,
    StyleFactory,
    SubjectFactory,
    WorkspaceFactory,
    member_of,
)
from tests.photos import images
from tests.photos.conftest import as_upload

pytestmark = pytest.mark.django_db

REFUSED = "Confirm that these photos are of you"


def page_url(subject) -> str:
    return reverse(
        "photos:subject_photos",
        kwargs={"workspace": subject.workspace.slug, "subject": subject.public_id},
    )


def consent_url(subject) -> str:
    return reverse(
        "photos:subject_consent",
        kwargs={"workspace": subject.workspace.slug, "subject": subject.public_id},
    )


def make_order(workspace, buyer, *, per_seat: bool, seats: int = 1, consent: bool = True):
    package = PackageFactory(per_seat=per_seat)
    return order_services.order_create(
        workspace=workspace,
        buyer=buyer,
        package=package,
        styles=[StyleFactory(slug="consent-style")],
        consent_given=consent,
        seats=seats,
    )


def nothing_stored(subject) -> bool:
    return (
        not Photo.unscoped.filter(subject=subject).exists()
        and not default_storage.exists(f"ws/{subject.workspace.public_id}")
        and not AuditLog.objects.filter(action="photo.upload").exists()
    )


# --- Orders -----------------------------------------------------------------------------------


def test_team_order_seats_wait_for_each_persons_consent(workspace, owner):
    order = make_order(workspace, owner, per_seat=True, seats=2)
    subjects = Subject.unscoped.filter(seat__order=order)
    assert subjects.count() == 2
    for subject in subjects:
        assert (subject.consent_given_at, subject.consent_given_by, subject.consent_version) == (
            None,
            None,
            "",
        )


def test_team_order_still_needs_the_buyers_tick(workspace, owner):
    with pytest.raises(ValidationError) as exc:
        make_order(workspace, owner, per_seat=True, seats=2, consent=False)
    assert "consent" in exc.value.message_dict
    assert not Subject.objects.for_workspace(workspace).exists()


def test_personal_order_subject_has_the_buyers_consent(owner, settings):
    personal = WorkspaceFactory(kind=Workspace.Kind.PERSONAL)
    buyer = member_of(personal, role="owner")
    order = make_order(personal, buyer, per_seat=False)
    subject = Subject.unscoped.get(seat__order=order)
    assert subject.user == buyer and subject.consent_given_by == buyer
    assert subject.consent_given_at is not None
    assert subject.consent_version == settings.PHOTO_CONSENT_VERSION


def test_moving_a_seat_resets_consent_given_for_someone_else(workspace, owner):
    order = make_order(workspace, owner, per_seat=True, seats=1)
    seat = order.seat_set.get()
    first, second = member_of(workspace), member_of(workspace)
    order_services.seat_assign(seat=seat, actor=owner, member=first)
    services.subject_consent_record(subject=seat.subject, actor=first)

    # Assigning the same person again keeps their consent.
    order_services.seat_assign(seat=seat, actor=owner, member=first)
    seat.subject.refresh_from_db()
    assert seat.subject.consent_given_by == first

    order_services.seat_assign(seat=seat, actor=owner, member=second)
    seat.subject.refresh_from_db()
    assert seat.subject.consent_given_at is None and seat.subject.consent_given_by is None
    assert AuditLog.objects.filter(action="seat.assign").latest("pk").details["consent_reset"]


# --- Service ----------------------------------------------------------------------------------


def test_upload_is_refused_while_consent_is_pending(workspace, owner, sent):
    subject = SubjectFactory(workspace=workspace, user=owner, consent_pending=True)
    with pytest.raises(ValidationError) as exc:
        services.photo_upload(subject=subject, upload=as_upload(images.good_jpeg()), actor=owner)
    assert REFUSED in exc.value.messages[0]
    with pytest.raises(ValidationError):
        services.photos_upload(
            subject=subject, uploads=[as_upload(images.good_jpeg())], actor=owner
        )
    assert nothing_stored(subject)
    assert sent == []


def test_consent_record_is_guarded_and_audited_with_ids_only(workspace, owner, settings):
    subject = SubjectFactory(workspace=workspace, consent_pending=True)
    member = member_of(workspace, full_name="Robin Member")
    services.subject_consent_record(subject=subject, actor=member)
    subject.refresh_from_db()
    assert subject.consent_given_by == member
    assert subject.consent_version == settings.PHOTO_CONSENT_VERSION
    given_at = subject.consent_given_at

    services.subject_consent_record(subject=subject, actor=owner)  # already given: unchanged
    subject.refresh_from_db()
    assert (subject.consent_given_by, subject.consent_given_at) == (member, given_at)
    log = AuditLog.objects.get(action="subject.consent")
    assert log.target_ids == [str(subject.public_id)]
    assert member.email not in str(log.details) and "Robin" not in str(log.details)


# --- Upload page ------------------------------------------------------------------------------


def test_member_consents_on_the_upload_page_then_uploads(client, workspace, owner, sent):
    order = make_order(workspace, owner, per_seat=True, seats=1)
    seat = order.seat_set.get()
    member = member_of(workspace, role=Membership.Role.MEMBER)
    order_services.seat_assign(seat=seat, actor=owner, member=member)
    subject = seat.subject
    client.force_login(member)

    page = client.get(page_url(subject)).content.decode()
    assert consent_url(subject) in page and "I have the person&#x27;s permission" in page
    assert 'type="file"' not in page

    refused = client.post(page_url(subject), {"photos": [as_upload(images.good_jpeg())]})
    assert refused.status_code == 302
    as_json = client.post(
        page_url(subject),
        {"photos": [as_upload(images.good_jpeg())]},
        HTTP_ACCEPT="application/json",
    )
    assert as_json.status_code == 400 and REFUSED in as_json.json()["refused"][0]["message"]
    assert nothing_stored(subject)

    assert client.get(consent_url(subject)).status_code == 405
    unticked = client.post(consent_url(subject), {}, follow=True)
    assert "Tick the box" in unticked.content.decode()
    subject.refresh_from_db()
    assert subject.consent_given_at is None

    response = client.post(consent_url(subject), {"consent": "on"})
    assert response.status_code == 302 and response.url == page_url(subject)
    subject.refresh_from_db()
    assert subject.consent_given_by == member and subject.consent_given_at is not None
    log = AuditLog.objects.get(action="subject.consent")
    assert log.actor_id == member.pk and member.email not in str(log.details)

    page = client.get(page_url(subject)).content.decode()
    assert 'type="file"' in page and consent_url(subject) not in page
    uploaded = client.post(page_url(subject), {"photos": [as_upload(images.good_jpeg())]})
    assert uploaded.status_code == 302
    assert Photo.unscoped.filter(subject=subject).count() == 1


def test_a_member_cannot_consent_for_a_colleagues_seat(client, workspace, owner):
    colleague = SubjectFactory(workspace=workspace, user=owner, consent_pending=True)
    member = member_of(workspace, role=Membership.Role.MEMBER)
    client.force_login(member)
    assert client.post(consent_url(colleague), {"consent": "on"}).status_code == 404
    colleague.refresh_from_db()
    assert colleague.consent_given_at is None


def test_order_page_says_which_seats_wait_for_consent(client, workspace, owner):
    order = make_order(workspace, owner, per_seat=True, seats=1)
    client.force_login(owner)
    progress = reverse(
        "orders:detail", kwargs={"workspace": workspace.slug, "order": order.public_id}
    )
    assert b"to confirm consent on the photos page" in client.get(progress).content
    subject = Subject.unscoped.get(seat__order=order)
    services.subject_consent_record(subject=subject, actor=owner)
    assert b"to confirm consent on the photos page" not in client.get(progress).content
