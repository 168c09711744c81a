"""Storage objects that no row points at any more.

A worker killed between storing a file and committing its row (or a delete that failed after
its row went) leaves an object nobody can reach or erase through the database. The sweep walks
every tenant prefix (``ws/``) and deletes objects that no FileField of any model references and
that are older than a grace period — younger ones may belong to a write still in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from django.apps import apps
from django.core.files.storage import default_storage
from django.db import models
from django.utils import timezone

logger = logging.getLogger(__name__)

TENANT_PREFIX = "ws"


def referenced_keys() -> set[str]:
    """Every storage key held by a FileField of any installed model."""
    keys: set[str] = set()
    for model in apps.get_models():
        fields = [f.name for f in model._meta.get_fields() if isinstance(f, models.FileField)]
        if not fields or model._meta.proxy:
            continue
        manager = model._base_manager
        for row in manager.values_list(*fields).iterator():
            keys.update(name for name in row if name)
    return keys


def stored_keys(prefix: str = TENANT_PREFIX) -> Iterator[str]:
    """Walk the storage below ``prefix`` (local folders or S3 "directories")."""
    try:
        directories, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{prefix}/{name}"
    for directory in directories:
        yield from stored_keys(f"{prefix}/{directory}")


def storage_orphans_sweep(*, older_than: timedelta = timedelta(days=1), dry_run: bool = False):
    """Delete unreferenced objects under ``ws/`` older than ``older_than``. Counts only."""
    cutoff = timezone.now() - older_than
    referenced = referenced_keys()
    found = deleted = young = 0
    for key in stored_keys():
        if key in referenced:
            continue
        found += 1
        if default_storage.get_modified_time(key) > cutoff:
            young += 1
            continue
        if not dry_run:
            default_storage.delete(key)
            deleted += 1
    logger.info("orphan sweep: %d unreferenced, %d deleted, %d too young", found, deleted, young)
    return {"unreferenced": found, "deleted": deleted, "too_young": young, "dry_run": dry_run}
