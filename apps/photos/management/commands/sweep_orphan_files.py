"""Delete storage objects under ws/ that no row references (see apps/photos/orphans.py)."""

from __future__ import annotations

import json
from datetime import timedelta

from django.core.management.base import BaseCommand

from apps.photos.orphans import storage_orphans_sweep


class Command(BaseCommand):
    help = "Delete unreferenced files under ws/ older than the grace period; prints the counts."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-hours", type=float, default=24.0)
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args, older_than_hours: float, dry_run: bool, **options):
        counts = storage_orphans_sweep(
            older_than=timedelta(hours=older_than_hours), dry_run=dry_run
        )
        self.stdout.write(json.dumps(counts))
