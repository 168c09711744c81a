"""Photos on S3 (django-storages) against moto's S3 server on loopback, with the production
storage options from config.settings.base._storages("s3")."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import time_machine
from django.core.files.storage import default_storage
from django.urls import reverse

from apps.photos import services
from apps.photos.files import serve_private_file
from apps.photos.models import Photo
from tests.factories import SubjectFactory
from tests.photos import images
from tests.photos.conftest import as_upload
from tests.s3 import BUCKET


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def keys(client) -> set[str]:
    listing = client.list_objects_v2(Bucket=BUCKET)
    return {item["Key"] for item in listing.get("Contents", [])}


def test_two_uploads_with_the_same_name_get_different_private_keys(
    s3, moto_endpoint, workspace, owner, sent
):
    subject = SubjectFactory(workspace=workspace, user=owner)
    first = services.photo_upload(
        subject=subject, upload=as_upload(images.good_jpeg(), "IMG_0001.jpg"), actor=owner
    )
    second = services.photo_upload(
        subject=subject, upload=as_upload(images.blurred(), "IMG_0001.jpg"), actor=owner
    )
    assert first.original.name != second.original.name
    assert "IMG_0001" not in first.original.name
    assert keys(s3) == {first.original.name, second.original.name}
    grants = s3.get_object_acl(Bucket=BUCKET, Key=first.original.name)["Grants"]
    assert [g["Grantee"].get("URI") for g in grants if g["Grantee"]["Type"] == "Group"] == []

    # Anonymous, unsigned GET of the object URL: refused.
    status, _ = fetch(f"{moto_endpoint}/{BUCKET}/{first.original.name}")
    assert status == 403


def test_check_reads_from_s3_and_keeps_only_the_reencoded_image(s3, workspace, owner, sent):
    subject = SubjectFactory(workspace=workspace, user=owner)
    photo = services.photo_upload(
        subject=subject, upload=as_upload(images.good_jpeg()), actor=owner
    )
    services.photo_check(photo_id=photo.pk)
    photo.refresh_from_db()
    assert photo.status == Photo.Status.ACCEPTED, photo.reasons
    assert keys(s3) == {photo.image.name, photo.face_crop.name}  # the original is gone
    stored = s3.get_object(Bucket=BUCKET, Key=photo.image.name)["Body"].read()
    assert stored[:3] == b"\xff\xd8\xff" and b"Exif" not in stored

    assert services.photos_purge_expired(now=photo.purge_after)["files"] == 2
    assert keys(s3) == set()


def test_the_image_view_redirects_to_a_short_lived_signed_url(
    s3, client, workspace, owner, settings, sent
):
    subject = SubjectFactory(workspace=workspace, user=owner)
    photo = services.photo_upload(
        subject=subject, upload=as_upload(images.good_jpeg()), actor=owner
    )
    services.photo_check(photo_id=photo.pk)
    photo.refresh_from_db()
    client.force_login(owner)

    response = client.get(
        reverse(
            "photos:photo_image",
            kwargs={"workspace": subject.workspace.slug, "photo": photo.public_id},
        )
    )
    assert response.status_code == 302
    assert "no-store" in response["Cache-Control"]
    query = parse_qs(urlsplit(response.url).query)
    assert query["X-Amz-Expires"] == [str(settings.SIGNED_URL_SECONDS)]
    assert query["response-content-type"] == ["image/jpeg"]
    status, body = fetch(response.url)
    assert status == 200
    assert body == default_storage.open(photo.image.name).read()


def test_a_signed_url_carries_its_signing_time_and_expires(
    s3, rf, workspace, owner, settings, sent
):
    """moto serves presigned URLs without checking their age, so expiry is asserted from the
    signed parameters: a URL made an hour ago with a 300 s lifetime is past its end."""
    subject = SubjectFactory(workspace=workspace, user=owner)
    photo = services.photo_upload(
        subject=subject, upload=as_upload(images.good_jpeg()), actor=owner
    )
    signed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    with time_machine.travel(signed_at, tick=False):
        response = serve_private_file(
            rf.get("/"), photo.original, content_type="image/jpeg", download_name="me.jpg"
        )
    query = parse_qs(urlsplit(response.url).query)
    assert query["X-Amz-Date"] == [signed_at.strftime("%Y%m%dT%H%M%SZ")]
    lifetime = timedelta(seconds=int(query["X-Amz-Expires"][0]))
    assert lifetime == timedelta(seconds=settings.SIGNED_URL_SECONDS)
    assert signed_at + lifetime < datetime.now(UTC)
    assert query["response-content-disposition"] == ['attachment; filename="me.jpg"']
