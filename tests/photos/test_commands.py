"""manage.py check_photos and purge_expired."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from apps.photos.models import Photo
from tests.factories import PhotoFactory
from tests.photos import images


def run(*args) -> list[dict]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_check_photos_prints_one_json_line_per_file(tmp_path):
    paths = [
        write(tmp_path, "good.jpg", images.good_jpeg()),
        write(tmp_path, "blurred.jpg", images.blurred()),
        write(tmp_path, "page.jpg", images.HTML_AS_JPG),
        str(tmp_path / "missing.jpg"),
    ]
    lines = run("check_photos", *paths)

    assert [line["path"] for line in lines] == paths
    assert [line["status"] for line in lines] == ["accepted", "rejected", "rejected", "rejected"]
    assert [line["reasons"] for line in lines] == [
        [],
        ["blurry"],
        ["unsupported_format"],
        ["corrupt"],
    ]
    assert set(lines[0]) == {"path", "status", "reasons", "metrics"}
    assert lines[0]["metrics"]["face_count"] == 1
    assert lines[0]["metrics"]["sharpness"] > 0


def test_check_photos_as_a_set_finds_duplicates(tmp_path):
    paths = [
        write(tmp_path, "a.jpg", images.good_jpeg()),
        write(tmp_path, "b.jpg", images.near_duplicate()),
        write(tmp_path, "c.jpg", images.good_variants()[1]),
    ]
    alone = run("check_photos", *paths)
    together = run("check_photos", *paths, "--set")
    assert [line["status"] for line in alone] == ["accepted"] * 3
    assert [line["reasons"] for line in together] == [[], ["duplicate"], []]


def test_purge_expired_command_prints_counts(db):
    photo = PhotoFactory(purge_after=timezone.now() - timedelta(seconds=1))
    out = io.StringIO()
    call_command("purge_expired", stdout=out)
    assert json.loads(out.getvalue())["photos"] == {"photos": 1, "files": 2, "failed": 0}
    assert Photo.unscoped.get(pk=photo.pk).purged_at is not None
