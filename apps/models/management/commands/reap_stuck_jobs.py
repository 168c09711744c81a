"""Requeue GPU jobs whose worker stopped responding (also runs every 5 minutes as an actor)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand

from apps.models import services


class Command(BaseCommand):
    help = "Requeue (or fail, past their attempt budget) GPU jobs with a stale heartbeat."

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale-seconds",
            type=int,
            help="heartbeat age that counts as dead (default: GPU_JOB_STALE_SECONDS)",
        )

    def handle(self, *args, stale_seconds: int | None, **options):
        import workers.actors  # noqa: F401  (declares the actors the reaper re-sends)

        stale_after = timedelta(seconds=stale_seconds) if stale_seconds else None
        counts = services.jobs_reap_stuck(stale_after=stale_after)
        self.stdout.write(
            f"requeued {counts['requeued']}, failed {counts['failed']}, resent {counts['resent']}"
        )
