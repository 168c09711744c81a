"""``manage.py stripe_reconcile --since 2026-11-01``: fetch the events Stripe lists since a date
(Stripe keeps 30 days) and process any we missed, through the same path as the webhook
(stored once by id, processed exactly once), then apply any refund or dispute still waiting for
a payment that is now known. Safe to run at any time, and twice at once."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from apps.orders import stripe_gateway, webhooks


def _date(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--since must be a date like 2026-11-01, not {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Process Stripe events created since a date that the webhook missed."

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, type=_date, help="YYYY-MM-DD (UTC)")

    def handle(self, *args, since: datetime, **options):
        if not stripe_gateway.is_configured():
            raise CommandError("STRIPE_SECRET_KEY is not set: there is no Stripe account to ask.")
        try:
            counts = webhooks.stripe_reconcile(since=since, log=self.stdout.write)
        except stripe_gateway.GatewayError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{counts['listed']} events listed, {counts['new']} new, "
                f"{counts['processed_now']} processed now, "
                f"{counts['deferred_applied']} waiting refunds/disputes applied."
            )
        )
