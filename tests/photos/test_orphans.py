"""The orphan sweep deletes only old, unreferenced objects under ws/."""

from __future__ import annotations

import json
import os
import time
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from apps.photos.orphans import storage_orphans_sweep
from tests.factories import GeneratedImageFactory, SubjectFactory

pytestmark = pytest.mark.django_db

DAY = 24 * 3600


def _age(key: str, seconds: float) -> None:
    """Make a local file look ``seconds`` old (the sweep reads the storage's modified time)."""
    path = default_storage.path(key)
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_sweep_deletes_old_orphans_and_keeps_referenced_and_young_files(workspace):
    image = GeneratedImageFactory(subject=SubjectFactory(workspace=workspace))
    referenced = image.image.name
    old_orphan = default_storage.save(
        f"ws/{workspace.public_id}/generated/lost.jpg", ContentFile(b"x")
    )
    young_orphan = default_storage.save(
        f"ws/{workspace.public_id}/adapters/in-flight.safetensors", ContentFile(b"y")
    )
    outside = default_storage.save("elsewhere/keep.txt", ContentFile(b"z"))
    for key in (referenced, old_orphan, outside):
        _age(key, 3 * DAY)

    dry = storage_orphans_sweep(dry_run=True)
    assert (dry["unreferenced"], dry["deleted"], dry["too_young"]) == (2, 0, 1)
    assert default_storage.exists(old_orphan)

    counts = storage_orphans_sweep()
    assert (counts["unreferenced"], counts["deleted"], counts["too_young"]) == (2, 1, 1)
    assert not default_storage.exists(old_orphan)
    assert default_storage.exists(referenced)
    assert default_storage.exists(young_orphan)
    assert default_storage.exists(outside)
    assert storage_orphans_sweep()["deleted"] == 0  # idempotent


def test_sweep_command_prints_counts(workspace):
    orphan = default_storage.save(f"ws/{workspace.public_id}/photos/x.jpg", ContentFile(b"x"))
    _age(orphan, 2 * DAY)
    out = StringIO()
    call_command("sweep_orphan_files", "--dry-run", stdout=out)
    assert json.loads(out.getvalue()) == {
        "unreferenced": 1,
        "deleted": 0,
        "too_young": 0,
        "dry_run": True,
    }
    assert default_storage.exists(orphan)


def test_sweep_walks_s3_prefixes(s3, workspace):
    from datetime import timedelta

    from tests.s3 import BUCKET

    image = GeneratedImageFactory(subject=SubjectFactory(workspace=workspace))
    orphan = default_storage.save(f"ws/{workspace.public_id}/thumbs/lost.webp", ContentFile(b"x"))
    counts = storage_orphans_sweep(older_than=timedelta(0))
    assert counts["deleted"] == 1
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    assert image.image.name in keys and orphan not in keys
