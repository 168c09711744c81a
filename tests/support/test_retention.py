"""Support's retention view lists adapters and generated images with their purge services, and
"purge now" runs every purge (each kind audited with counts only)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import AuditLog
from apps.models.models import LoraAdapter
from apps.photos.models import GeneratedImage
from apps.photos.retention import retention_schedule
from tests.factories import (
    GeneratedImageFactory,
    LoraAdapterFactory,
    SubjectFactory,
    WorkspaceFactory,
)

pytestmark = pytest.mark.django_db


def test_schedule_and_purge_now_cover_adapters_and_generated_images(client, support_user):
    workspace = WorkspaceFactory()
    subject = SubjectFactory(workspace=workspace)
    past = timezone.now() - timedelta(days=1)
    adapter = LoraAdapterFactory(subject=subject, purge_after=past)
    adapter_file = adapter.file.name
    LoraAdapterFactory(subject=subject, purge_after=timezone.now() + timedelta(days=60))
    image = GeneratedImageFactory(subject=subject, purge_after=past, is_favourite=True)
    kept = GeneratedImageFactory(subject=subject, purge_after=timezone.now() + timedelta(days=9))

    rows = {row.kind: row for row in retention_schedule(workspace=workspace, now=timezone.now())}
    assert (rows["Trained adapters"].stored, rows["Trained adapters"].due_now) == (2, 1)
    assert rows["Trained adapters"].purge_service == "adapters_purge_expired"
    assert (rows["Generated images"].stored, rows["Generated images"].due_now) == (2, 1)
    assert rows["Generated images"].purge_service == "generated_images_purge_expired"

    url = reverse("admin:accounts_workspace_retention", args=[workspace.pk])
    client.force_login(support_user)
    page = client.get(url).text
    assert "adapters_purge_expired" in page and "generated_images_purge_expired" in page
    assert "no purge service yet" not in page

    assert client.post(url).status_code == 302

    adapter.refresh_from_db()
    assert adapter.purged_at is not None and adapter.file.name == ""
    assert not default_storage.exists(adapter_file)
    assert list(GeneratedImage.unscoped.values_list("pk", flat=True)) == [kept.pk]
    assert not default_storage.exists(image.image.name)
    log = AuditLog.objects.get(action="retention.purge_now")
    assert log.details["adapters"] == {"adapters": 1, "files": 1, "failed": 0}
    assert log.details["generated_images"] == {"images": 1, "files": 2, "failed": 0}
    rows = {row.kind: row for row in retention_schedule(workspace=workspace, now=timezone.now())}
    assert (rows["Trained adapters"].stored, rows["Trained adapters"].due_now) == (1, 0)
    assert LoraAdapter.unscoped.filter(subject=subject).count() == 2  # the purged row stays
