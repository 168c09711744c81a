"""Check photo files from the command line: ``manage.py check_photos PATH... [--set]``.

Prints one JSON line per file: {"path", "status", "reasons", "metrics"}. With --set the files
are judged together as one subject's photos (duplicates and same person apply).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from apps.photos import checks
from apps.photos.services import FileVerdict, photos_check_files


class Command(BaseCommand):
    help = "Run the photo checks on files and print one JSON line per file."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument(
            "--set",
            action="store_true",
            dest="as_set",
            help="Judge the files together as one subject's set (duplicates, same person).",
        )

    def handle(self, *args, paths: list[str], as_set: bool, **options):
        readable: list[tuple[int, bytes]] = []
        verdicts: dict[int, FileVerdict] = {}
        for index, path in enumerate(paths):
            try:
                readable.append((index, Path(path).read_bytes()))
            except OSError as exc:
                verdicts[index] = FileVerdict(
                    status="rejected",
                    reasons=[checks.CORRUPT],
                    metrics={"error": exc.strerror or type(exc).__name__},
                )
        results = photos_check_files(files=[data for _, data in readable], as_set=as_set)
        for (index, _), verdict in zip(readable, results, strict=True):
            verdicts[index] = verdict
        for index, path in enumerate(paths):
            verdict = verdicts[index]
            line = {
                "path": path,
                "status": verdict.status,
                "reasons": verdict.reasons,
                "metrics": verdict.metrics,
            }
            self.stdout.write(json.dumps(line, sort_keys=False, default=str))
