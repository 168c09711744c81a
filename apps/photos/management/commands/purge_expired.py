"""Run every retention purge now (the daily actors do the same, one kind each): uploaded photos,
adapter files, generated images, "download all" zips and data exports."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from apps.photos.retention import purge_expired_all


class Command(BaseCommand):
    help = (
        "Delete everything whose retention period has ended (photos, adapters, generated "
        "images, zip and data exports); prints one JSON object with the counts per kind."
    )

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(purge_expired_all()))
