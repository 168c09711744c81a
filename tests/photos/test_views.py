"""Subjects page, upload page, verdict partial, delete, and permission-checked file serving."""

from __future__ import annotations

import json

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from apps.accounts.models import Membership
from apps.photos import services
from apps.photos.models import GeneratedImage, Photo, Subject
from tests.factories import GeneratedImageFactory, PhotoFactory, SubjectFactory, member_of
from tests.photos import images
from tests.photos.conftest import as_upload


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def page_url(subject) -> str:
    return reverse(
        "photos:subject_photos",
        kwargs={"workspace": subject.workspace.slug, "subject": subject.public_id},
    )


def partial_url(subject) -> str:
    return reverse(
        "photos:subject_photos_partial",
        kwargs={"workspace": subject.workspace.slug, "subject": subject.public_id},
    )


def check_pending(subject) -> None:
    for pk in Photo.unscoped.filter(subject=subject, status="pending").values_list("pk", flat=True):
        services.photo_check(photo_id=pk)


# --- Subjects ---------------------------------------------------------------------------------


def test_subjects_page_creates_a_subject_with_consent(owner_client, workspace, owner):
    url = reverse("photos:subjects", kwargs={"workspace": workspace.slug})
    refused = owner_client.post(url, {"display_name": "Alex Kim", "is_me": "on"})
    assert refused.status_code == 200
    assert "permission" in refused.content.decode()
    assert not Subject.objects.for_workspace(workspace).exists()

    response = owner_client.post(url, {"display_name": "Alex Kim", "is_me": "on", "consent": "on"})
    subject = Subject.objects.for_workspace(workspace).get()
    assert response.status_code == 302 and response.url == page_url(subject)
    assert subject.user == owner and subject.consent_given_by == owner

    listing = owner_client.get(url).content.decode()
    assert "Alex Kim" in listing and "0 of 8–20 accepted" in listing


def test_a_member_only_sees_and_uploads_to_their_own_subject(client, workspace, owner, sent):
    member = member_of(workspace, role=Membership.Role.MEMBER)
    colleague = SubjectFactory(workspace=workspace, user=owner, display_name="Owner Person")
    client.force_login(member)

    created = client.post(
        reverse("photos:subjects", kwargs={"workspace": workspace.slug}),
        {"display_name": "Me", "is_me": "", "consent": "on"},  # members cannot pick someone else
    )
    own = Subject.objects.for_workspace(workspace).get(display_name="Me")
    assert created.status_code == 302 and own.user == member

    listing = client.get(reverse("photos:subjects", kwargs={"workspace": workspace.slug}))
    assert "Owner Person" not in listing.content.decode()
    assert client.get(page_url(colleague)).status_code == 404
    blocked = client.post(page_url(colleague), {"photos": [as_upload(images.good_jpeg())]})
    assert blocked.status_code == 404
    assert not Photo.unscoped.filter(subject=colleague).exists()
    assert client.get(page_url(own)).status_code == 200


def test_a_manager_can_upload_for_someone_else(client, workspace, sent):
    admin = member_of(workspace, role=Membership.Role.ADMIN)
    other = SubjectFactory(workspace=workspace, user=member_of(workspace))
    client.force_login(admin)
    response = client.post(page_url(other), {"photos": [as_upload(images.good_jpeg())]})
    assert response.status_code == 302
    assert Photo.unscoped.filter(subject=other).count() == 1


# --- Upload page and verdicts -----------------------------------------------------------------


def test_upload_form_post_takes_many_files_and_verdicts_land_in_the_partial(
    owner_client, owner, workspace, sent
):
    subject = SubjectFactory(workspace=workspace, user=owner)
    page = owner_client.get(page_url(subject)).content.decode()
    assert 'type="file"' in page and "multiple" in page and 'enctype="multipart/form-data"' in page
    assert "js/upload.js" in page and "<script>" not in page  # no inline script

    response = owner_client.post(
        page_url(subject),
        {
            "photos": [
                as_upload(images.good_variants()[0], "IMG_0001.jpg"),
                as_upload(images.blurred(), "IMG_0002.jpg"),
                as_upload(images.HTML_AS_JPG, "IMG_0003.jpg"),
            ]
        },
    )
    assert response.status_code == 302
    assert Photo.unscoped.filter(subject=subject, status="pending").count() == 3

    pending = owner_client.get(partial_url(subject)).content.decode()
    assert "Checking…" in pending and "every 2s" in pending
    assert "0 of 8–20 accepted" in pending

    check_pending(subject)
    done = owner_client.get(partial_url(subject)).content.decode()
    assert "every 2s" not in done  # polling stops once nothing is pending
    assert "1 of 8–20 accepted" in done
    assert "Not ready yet: 7 more accepted photos needed." in done
    assert "This photo is blurry" in done
    assert "We can&#x27;t read this kind of file" in done
    assert "IMG_0003.jpg" in done


def test_upload_by_script_gets_json(owner_client, owner, workspace, sent):
    subject = SubjectFactory(workspace=workspace, user=owner)
    PhotoFactory.create_batch(20, subject=subject, image="", face_crop="")
    response = owner_client.post(
        page_url(subject),
        {"photos": [as_upload(images.good_jpeg(), "IMG_0021.jpg")]},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 400
    body = json.loads(response.content)
    assert body["photos"] == []
    assert body["refused"][0]["name"] == "IMG_0021.jpg"
    assert "already has 20 photos" in body["refused"][0]["message"]


def test_counter_and_retention_date_on_the_page(owner_client, owner, workspace):
    subject = SubjectFactory(workspace=workspace, user=owner)
    photos = PhotoFactory.create_batch(9, subject=subject)
    first = min(services.photo_purge_after(p) for p in photos)
    Photo.unscoped.filter(subject=subject).update(purge_after=first)
    page = owner_client.get(page_url(subject)).content.decode()
    assert "9 of 8–20 accepted" in page
    assert "Ready: we have enough good photos." in page
    assert "30 days after upload, or 7 days after your portraits are made" in page
    assert first.strftime("%-d %B %Y") in page


def test_delete_removes_the_photo_and_its_files(owner_client, owner, workspace, sent):
    subject = SubjectFactory(workspace=workspace, user=owner)
    photo, other = PhotoFactory.create_batch(2, subject=subject)
    url = reverse(
        "photos:photo_delete", kwargs={"workspace": workspace.slug, "photo": photo.public_id}
    )
    assert owner_client.get(url).status_code == 405

    response = owner_client.post(url, headers={"hx-request": "true"})
    assert response.status_code == 200
    assert 'id="photo-list"' in response.content.decode()
    assert "1 of 8–20 accepted" in response.content.decode()
    assert not Photo.unscoped.filter(pk=photo.pk).exists()
    assert not default_storage.exists(photo.image.name)
    assert Photo.unscoped.filter(pk=other.pk).exists()

    other_url = reverse(
        "photos:photo_delete", kwargs={"workspace": workspace.slug, "photo": other.public_id}
    )
    assert owner_client.post(other_url).status_code == 302


def test_bad_input_is_never_a_server_error(owner_client, owner, workspace, sent):
    subject = SubjectFactory(workspace=workspace, user=owner)
    hostile = [
        ("page.jpg", images.HTML_AS_JPG),
        ("drawing.jpg", images.SVG_AS_JPG),
        ("half.jpg", images.truncated_jpeg()),
        ("huge.png", images.png_bomb_header()),
        ("empty.jpg", b""),
        ("noise.jpg", images.random_bytes()),
    ]
    response = owner_client.post(
        page_url(subject), {"photos": [as_upload(data, name) for name, data in hostile]}
    )
    assert response.status_code == 302
    check_pending(subject)
    rejected = Photo.unscoped.filter(subject=subject, status="rejected")
    assert rejected.count() == len(hostile)
    partial = owner_client.get(partial_url(subject)).content.decode()
    assert partial.count("Not usable") == len(hostile)
    assert "more pixels than we can process" in partial
    assert "damaged or incomplete" in partial


def test_post_without_files_says_what_to_do(owner_client, owner, workspace):
    subject = SubjectFactory(workspace=workspace, user=owner)
    response = owner_client.post(page_url(subject), {}, follow=True)
    assert "Choose at least one photo" in response.content.decode()


# --- Serving files ----------------------------------------------------------------------------


def test_photo_image_and_face_are_served_privately(owner_client, workspace, owner):
    photo = PhotoFactory(subject=SubjectFactory(workspace=workspace, user=owner))
    for name, field in (
        ("photos:photo_image", photo.image),
        ("photos:photo_face", photo.face_crop),
    ):
        url = reverse(name, kwargs={"workspace": workspace.slug, "photo": photo.public_id})
        response = owner_client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Cache-Control"].startswith("private")
        assert "Content-Disposition" not in response
        assert b"".join(response.streaming_content) == default_storage.open(field.name).read()


def test_a_photo_without_a_stored_image_is_404(owner_client, workspace, owner):
    photo = PhotoFactory(subject=SubjectFactory(workspace=workspace, user=owner), image="")
    url = reverse(
        "photos:photo_image", kwargs={"workspace": workspace.slug, "photo": photo.public_id}
    )
    assert owner_client.get(url).status_code == 404


def test_generated_image_variants_and_download_name(owner_client, workspace, owner):
    image = GeneratedImageFactory(
        subject=SubjectFactory(workspace=workspace, user=owner, display_name="Alex Kim")
    )
    kwargs = {"workspace": workspace.slug, "image": image.public_id}
    full = owner_client.get(reverse("photos:generated_image", kwargs={**kwargs, "variant": "full"}))
    assert full.status_code == 200 and full["Content-Type"] == "image/png"
    assert full["X-Content-Type-Options"] == "nosniff"
    thumb = owner_client.get(
        reverse("photos:generated_image", kwargs={**kwargs, "variant": "thumb"})
    )
    assert thumb["Content-Type"] == "image/jpeg"

    download = owner_client.get(
        reverse("photos:generated_image", kwargs={**kwargs, "variant": "full"}) + "?download=1"
    )
    assert download["Content-Disposition"] == (
        f'attachment; filename="likeness-alex-kim-{str(image.public_id)[:8]}.png"'
    )
    assert (
        owner_client.get(f"/w/{workspace.slug}/images/{image.public_id}/huge/").status_code == 404
    )


@pytest.mark.parametrize(
    "status", [GeneratedImage.Moderation.HELD, GeneratedImage.Moderation.REJECTED]
)
def test_held_generated_images_are_404_for_customers_but_not_staff(client, workspace, status):
    owner = member_of(workspace, role=Membership.Role.OWNER)
    staff = member_of(workspace, role=Membership.Role.MEMBER, is_staff=True)
    image = GeneratedImageFactory(
        subject=SubjectFactory(workspace=workspace, user=staff), moderation_status=status
    )
    url = reverse(
        "photos:generated_image",
        kwargs={"workspace": workspace.slug, "image": image.public_id, "variant": "full"},
    )
    client.force_login(owner)
    assert client.get(url).status_code == 404
    client.force_login(staff)
    assert client.get(url).status_code == 200

    GeneratedImage.unscoped.filter(pk=image.pk).update(
        moderation_status=GeneratedImage.Moderation.APPROVED
    )
    client.force_login(owner)
    assert client.get(url).status_code == 200


def test_a_member_cannot_fetch_a_colleagues_photo(client, workspace, owner):
    photo = PhotoFactory(subject=SubjectFactory(workspace=workspace, user=owner))
    client.force_login(member_of(workspace))
    url = reverse(
        "photos:photo_image", kwargs={"workspace": workspace.slug, "photo": photo.public_id}
    )
    assert client.get(url).status_code == 404


def test_the_dashboard_links_to_the_photos_page(owner_client, workspace):
    page = owner_client.get(reverse("accounts:dashboard")).content.decode()
    assert reverse("photos:subjects", kwargs={"workspace": workspace.slug}) in page
