"""manage.py headshots: photos in, portraits out, on the tiny models."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from apps.models.models import JobStatus, LoraAdapter, TrainingJob
from apps.photos.models import GeneratedImage
from tests.models.conftest import photo_variant

pytestmark = pytest.mark.slow


def test_headshots_end_to_end_with_skipped_checks(db, tiny_model_dirs, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(8):
        (photos / f"IMG_{index:04d}.jpg").write_bytes(photo_variant(index)[0])
    (photos / "broken.jpg").write_bytes(b"not a photo")
    (photos / "notes.txt").write_text("ignored")
    out = tmp_path / "out"

    call_command(
        "headshots", str(photos), "--out", str(out), "--family", "flux",
        "--styles", "studio-grey,black-and-white", "--count", "2", "--steps", "4",
        "--skip-checks",
    )  # fmt: skip

    summary = json.loads(capsys.readouterr().out)
    assert summary["photos"]["accepted"] == 8
    assert [r["file"] for r in summary["photos"]["rejected"]] == ["broken.jpg"]
    adapter = LoraAdapter.unscoped.get()
    assert summary["training"]["adapter_sha256"] == adapter.sha256
    assert summary["training"]["steps"] == 4
    assert TrainingJob.unscoped.get().status == JobStatus.SUCCEEDED
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        "black-and-white-1002.jpg",
        "black-and-white-1003.jpg",
        "studio-grey-1000.jpg",
        "studio-grey-1001.jpg",
    ]
    assert sorted(i["file"] for i in summary["generation"]["images"]) == files
    assert summary["generation"]["hold_reasons"] == {"no_face": 4}  # tiny models paint noise
    assert GeneratedImage.unscoped.count() == 4
    assert set(summary["seconds"]) == {
        "base_model",
        "photo_checks",
        "training",
        "generation",
        "total",
    }
