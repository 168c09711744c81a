"""Upload, check, delete: the photo services against PostgreSQL, local storage and real dlib."""

from __future__ import annotations

import io
import re
import threading
from datetime import timedelta
from functools import cache

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import connection
from PIL import Image

from apps.accounts.models import AuditLog
from apps.photos import checks, services
from apps.photos.analysis import analyze_photo
from apps.photos.models import Photo, Subject
from tests.factories import PhotoFactory, SubjectFactory, UserFactory
from tests.photos import images
from tests.photos.conftest import as_upload

KEY = r"ws/{ws}/{kind}/[0-9a-f]{{32}}\.{ext}"


@cache
def astronaut_embedding() -> tuple[float, ...]:
    return tuple(analyze_photo(images.good_jpeg()).embedding)


def someone_else(offset: int = 0) -> list[float]:
    """An embedding a full unit away from the astronaut's (dlib: > 0.6 is another person)."""
    direction = np.zeros(128)
    direction[offset % 128] = 1.0
    return [float(x) for x in np.asarray(astronaut_embedding()) + direction]


# --- Subjects ---------------------------------------------------------------------------------


def test_subject_create_records_consent_and_audits(workspace, owner, settings):
    subject = services.subject_create(
        workspace=workspace, actor=owner, display_name="  Alex Kim ", consent_given=True, user=owner
    )
    subject.refresh_from_db()
    assert subject.display_name == "Alex Kim"
    assert subject.consent_given_by == owner
    assert subject.consent_given_at is not None
    assert subject.consent_version == settings.PHOTO_CONSENT_VERSION
    log = AuditLog.objects.get(action="subject.create")
    assert log.target_ids == [str(subject.public_id)]
    assert "Alex" not in str(log.details)


def test_subject_create_without_consent_is_refused(workspace, owner):
    with pytest.raises(ValidationError) as exc:
        services.subject_create(
            workspace=workspace, actor=owner, display_name="Alex", consent_given=False
        )
    assert "permission" in str(exc.value.message_dict["consent"])
    assert not Subject.objects.for_workspace(workspace).exists()


# --- Upload -----------------------------------------------------------------------------------


def test_upload_stores_original_privately_under_a_generated_key(
    subject, owner, sent, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        photo = services.photo_upload(
            subject=subject, upload=as_upload(images.good_jpeg(), "../IMG_0001.jpg"), actor=owner
        )
    assert photo.status == Photo.Status.PENDING
    assert photo.original_name == "IMG_0001.jpg"
    assert re.fullmatch(
        KEY.format(ws=subject.workspace.public_id, kind="originals", ext="bin"), photo.original.name
    )
    assert default_storage.open(photo.original.name).read() == images.good_jpeg()
    assert photo.purge_after == photo.uploaded_at + timedelta(days=settings.PHOTO_RETENTION_DAYS)
    assert sent == [("check_photo", (photo.pk,))]
    assert AuditLog.objects.filter(
        action="photo.upload", target_ids=[str(photo.public_id)]
    ).exists()


def test_oversized_file_is_refused_before_anything_is_stored(subject, owner, sent, settings):
    settings.PHOTO_MAX_UPLOAD_BYTES = 100_000
    with pytest.raises(ValidationError) as exc:
        services.photo_upload(subject=subject, upload=as_upload(images.good_jpeg()), actor=owner)
    assert "larger than" in exc.value.messages[0]
    assert not Photo.unscoped.exists()
    assert not default_storage.exists(f"ws/{subject.workspace.public_id}")
    assert sent == []


def test_the_21st_photo_is_refused_and_a_deleted_one_can_be_replaced(subject, owner, sent):
    kept = PhotoFactory.create_batch(15, subject=subject)
    PhotoFactory.create_batch(5, subject=subject, status=Photo.Status.PENDING, image="")
    PhotoFactory.create_batch(3, subject=subject, status=Photo.Status.REJECTED)  # not counted

    with pytest.raises(ValidationError) as exc:
        services.photo_upload(subject=subject, upload=as_upload(images.good_jpeg()), actor=owner)
    assert "already has 20 photos" in exc.value.messages[0]
    assert Photo.unscoped.filter(subject=subject).count() == 23

    services.photo_delete(photo=kept[0], actor=owner)
    result = services.photos_upload(
        subject=subject,
        uploads=[as_upload(images.good_jpeg(), "a.jpg"), as_upload(images.blurred(), "b.jpg")],
        actor=owner,
    )
    assert len(result.photos) == 1
    assert result.refused == [("b.jpg", exc.value.messages[0])]


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_cannot_pass_the_limit(monkeypatch):
    monkeypatch.setattr("config.tasks.send_now", lambda *a, **k: None)
    subject = SubjectFactory()
    uploader = UserFactory()
    PhotoFactory.create_batch(18, subject=subject, image="", face_crop="")
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def upload(n: int) -> None:
        try:
            start.wait()
            services.photo_upload(
                subject=subject, upload=as_upload(b"x" * 10, f"{n}.jpg"), actor=uploader
            )
            outcomes.append("stored")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "refused", "stored", "stored"]
    assert Photo.unscoped.filter(subject=subject).count() == 20


# --- Checks -----------------------------------------------------------------------------------


def test_good_photo_is_accepted_with_clean_files_and_the_original_deleted(
    subject, upload_and_check, sent
):
    photo = upload_and_check(subject, images.good_jpeg())
    ws = subject.workspace.public_id

    assert photo.status == Photo.Status.ACCEPTED, photo.reasons
    assert photo.reasons == []
    assert re.fullmatch(KEY.format(ws=ws, kind="photos", ext="jpg"), photo.image.name)
    assert re.fullmatch(KEY.format(ws=ws, kind="faces", ext="jpg"), photo.face_crop.name)
    assert photo.original.name == ""
    assert (
        not default_storage.exists(f"ws/{ws}/originals")
        or not default_storage.listdir(f"ws/{ws}/originals")[1]
    )
    assert Image.open(default_storage.open(photo.image.name)).format == "JPEG"
    assert Image.open(default_storage.open(photo.face_crop.name)).size == (512, 512)

    analysis = analyze_photo(images.good_jpeg())
    assert services.phash_from_db(photo.phash) == analysis.phash
    assert photo.sha256 == analysis.sha256
    assert (photo.width, photo.height) == (1600, 1200)
    assert len(photo.embedding) == 128
    assert photo.checked_at is not None
    assert photo.purge_after == photo.uploaded_at + timedelta(days=30)
    subject.refresh_from_db()
    assert subject.reference_embedding == pytest.approx(photo.embedding)
    assert ("subject_photos_changed", (subject.pk,)) in sent


@pytest.mark.parametrize("make", [images.good_png, images.good_webp, images.good_heic])
def test_png_webp_and_heic_are_recognised_by_content_and_stored_as_jpeg(
    subject, upload_and_check, make
):
    photo = upload_and_check(subject, make(), "named-wrongly.jpg")
    assert photo.status == Photo.Status.ACCEPTED, photo.reasons
    assert photo.image.name.endswith(".jpg")
    assert Image.open(default_storage.open(photo.image.name)).format == "JPEG"


def test_stored_image_has_no_exif_gps_xmp_or_comment(subject, upload_and_check):
    source = images.with_gps_and_xmp()
    assert b"TestMaker" in source and b"home address" in source  # the fixture carries them
    photo = upload_and_check(subject, source)

    for name in (photo.image.name, photo.face_crop.name):
        if not name:
            continue
        stored = default_storage.open(name).read()
        for marker in (b"Exif", b"TestMaker", b"home address", b"xmpmeta", b"ns.adobe.com", b"ICC"):
            assert marker not in stored, (name, marker)
        opened = Image.open(io.BytesIO(stored))
        assert not opened.getexif()
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(opened.info)
    assert photo.image.name  # re-encoded even when the photo is rejected for quality


def test_exif_rotated_photo_is_stored_upright(subject, upload_and_check):
    photo = upload_and_check(subject, images.rotated_with_exif())
    assert photo.status == Photo.Status.ACCEPTED, photo.reasons
    stored = Image.open(default_storage.open(photo.image.name))
    assert stored.width > stored.height  # the upright landscape, not the stored portrait
    assert (photo.width, photo.height) == (1600, 1200)


def test_duplicates_across_uploads_are_rejected(subject, upload_and_check):
    first = upload_and_check(subject, images.good_jpeg(), "IMG_0001.jpg")
    same_file = upload_and_check(subject, images.good_jpeg(), "IMG_0001 copy.jpg")
    resaved = upload_and_check(subject, images.near_duplicate(), "from-chat.jpg")
    other = upload_and_check(subject, images.good_variants()[1], "IMG_0002.jpg")

    assert first.status == Photo.Status.ACCEPTED
    assert same_file.reasons == [checks.DUPLICATE]
    assert resaved.reasons == [checks.DUPLICATE]
    assert other.status == Photo.Status.ACCEPTED, other.reasons
    # A rejected photo keeps its clean image (so the customer sees which one) but no face crop
    # and no embedding.
    assert same_file.image.name and not same_file.face_crop.name and same_file.embedding is None
    faces = default_storage.listdir(f"ws/{subject.workspace.public_id}/faces")[1]
    assert len(faces) == 2  # the duplicates' face crops were deleted, not just forgotten


def test_a_different_person_is_rejected_once_three_photos_are_accepted(subject, upload_and_check):
    for n in range(3):
        PhotoFactory(subject=subject, embedding=someone_else(n))
    photo = upload_and_check(subject, images.good_jpeg())
    assert photo.reasons == [checks.DIFFERENT_PERSON]
    assert photo.status == Photo.Status.REJECTED
    # The accepted photos are never re-judged or lost.
    assert Photo.unscoped.filter(subject=subject, status=Photo.Status.ACCEPTED).count() == 3


def test_the_same_person_is_accepted_after_three(subject, upload_and_check):
    verdicts = [upload_and_check(subject, data) for data in images.good_variants()[:4]]
    assert [p.status for p in verdicts] == [Photo.Status.ACCEPTED] * 4, [
        p.reasons for p in verdicts
    ]


def test_reference_embedding_follows_accepts_and_deletes(subject, upload_and_check, owner):
    first = upload_and_check(subject, images.good_variants()[0])
    second = upload_and_check(subject, images.good_variants()[2])
    subject.refresh_from_db()
    expected = checks.robust_mean_embedding([first.embedding, second.embedding])
    assert subject.reference_embedding == pytest.approx(expected)

    services.photo_delete(photo=first, actor=owner)
    subject.refresh_from_db()
    assert subject.reference_embedding == pytest.approx(second.embedding)
    assert not default_storage.exists(first.image.name)
    assert not default_storage.exists(first.face_crop.name)
    assert AuditLog.objects.filter(action="photo.delete").count() == 1

    services.photo_delete(photo=second, actor=owner)
    subject.refresh_from_db()
    assert subject.reference_embedding is None


def test_bad_files_in_a_batch_reject_only_themselves(subject, upload_and_check):
    accepted_before = upload_and_check(subject, images.good_variants()[0])
    batch = [
        ("truncated.jpg", images.truncated_jpeg(), checks.CORRUPT),
        ("page.jpg", images.HTML_AS_JPG, checks.UNSUPPORTED_FORMAT),
        ("drawing.jpg", images.SVG_AS_JPG, checks.UNSUPPORTED_FORMAT),
        ("huge.png", images.png_bomb_header(), checks.TOO_MANY_PIXELS),
        ("good.jpg", images.good_variants()[3], None),
    ]
    for name, data, reason in batch:
        photo = upload_and_check(subject, data, name)
        if reason is None:
            assert photo.status == Photo.Status.ACCEPTED, photo.reasons
        else:
            assert photo.status == Photo.Status.REJECTED
            assert photo.reasons == [reason]
            assert not photo.image.name and not photo.original.name
    accepted_before.refresh_from_db()
    assert accepted_before.status == Photo.Status.ACCEPTED
    assert default_storage.exists(accepted_before.image.name)


def test_a_second_check_of_the_same_photo_changes_nothing(subject, upload_and_check, sent):
    photo = upload_and_check(subject, images.good_jpeg())
    before = Photo.unscoped.values().get(pk=photo.pk)
    sent.clear()
    assert services.photo_check(photo_id=photo.pk) is False
    assert Photo.unscoped.values().get(pk=photo.pk) == before
    assert sent == []
    assert services.photo_check(photo_id=10**9) is False  # a deleted photo's message


def test_a_missing_original_is_rejected_as_damaged(subject, owner, sent):
    photo = services.photo_upload(
        subject=subject, upload=as_upload(images.good_jpeg()), actor=owner
    )
    default_storage.delete(photo.original.name)
    assert services.photo_check(photo_id=photo.pk) is True
    photo.refresh_from_db()
    assert photo.reasons == [checks.CORRUPT]


def test_deleting_a_photo_while_it_is_checked_leaves_no_files(subject, owner, sent, monkeypatch):
    photo = services.photo_upload(
        subject=subject, upload=as_upload(images.good_jpeg()), actor=owner
    )
    real_store = services._store_outputs

    def store_then_delete(photo_row, analysis):
        stored = real_store(photo_row, analysis)
        services.photo_delete(photo=photo_row, actor=owner)  # the customer deletes meanwhile
        return stored

    monkeypatch.setattr(services, "_store_outputs", store_then_delete)
    assert services.photo_check(photo_id=photo.pk) is False
    ws = subject.workspace.public_id
    for kind in ("photos", "faces", "originals"):
        folder = f"ws/{ws}/{kind}"
        assert not default_storage.exists(folder) or default_storage.listdir(folder)[1] == []
