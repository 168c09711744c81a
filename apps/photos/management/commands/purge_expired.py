"""Purge the files of photos past their retention date now (the daily actor does the same)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from apps.photos.services import photos_purge_expired


class Command(BaseCommand):
    help = "Delete the files of photos whose retention period has ended; prints the counts."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(photos_purge_expired()))
