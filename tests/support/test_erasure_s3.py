"""The same erasure with S3 storage (django-storages) against moto's server on loopback."""

from __future__ import annotations

import pytest

from apps.photos.erasure import person_erase
from tests.factories import PhotoFactory, UserFactory, person_with_everything
from tests.s3 import BUCKET
from tests.support.scan import bucket_keys, database_hits

pytestmark = pytest.mark.django_db


def test_erasure_on_s3_leaves_no_object_of_the_person(s3, django_capture_on_commit_callbacks):
    person = person_with_everything()
    keys_before = bucket_keys(s3, BUCKET)
    assert person.file_names <= keys_before
    assert all(key.startswith("ws/") for key in keys_before)

    with django_capture_on_commit_callbacks(execute=True):
        person_erase(user=person.user, actor=UserFactory(is_staff=True), reason="legal")

    remaining = bucket_keys(s3, BUCKET)
    assert remaining & person.file_names == set()
    bystander = {person.bystander_photo.image.name, person.bystander_photo.face_crop.name}
    assert remaining == bystander
    assert database_hits(person.needles) == []


def test_a_workspace_deleted_on_s3_loses_every_object_under_its_prefix(
    s3, django_capture_on_commit_callbacks
):
    """Objects no row points at any more (a crashed upload) go with the workspace prefix."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from apps.accounts.models import Membership, Workspace
    from tests.factories import MembershipFactory, SubjectFactory, WorkspaceFactory

    user = UserFactory()
    workspace = WorkspaceFactory(kind=Workspace.Kind.PERSONAL)
    MembershipFactory(workspace=workspace, user=user, role=Membership.Role.OWNER)
    PhotoFactory(subject=SubjectFactory(workspace=workspace, user=user))
    stray = default_storage.save(f"ws/{workspace.public_id}/photos/stray.jpg", ContentFile(b"x"))
    with django_capture_on_commit_callbacks(execute=True):
        person_erase(user=user, actor=UserFactory(is_staff=True), reason="legal")
    assert stray not in bucket_keys(s3, BUCKET)
    assert bucket_keys(s3, BUCKET) == set()
