"""Serve the site with in-process workers: ``manage.py run [addrport]``.

The embedded default (no REDIS_URL): the web server and Dramatiq worker threads share one
process and one in-memory broker, so `make run` needs no Redis. With REDIS_URL set, only the web
server runs here; start `dramatiq workers.worker` processes separately.
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config.dramatiq import start_inprocess_scheduler, start_inprocess_workers


class Command(BaseCommand):
    help = "Serve the site, with in-process workers when no REDIS_URL is set."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options):
        if settings.DRAMATIQ_BROKER == "inprocess":
            start_inprocess_workers()
            start_inprocess_scheduler()
            self.stdout.write("In-process workers started (queues: gpu, cpu, default).")
        else:
            self.stdout.write("Using the Redis broker: run `dramatiq workers.worker` separately.")
        call_command("runserver", addrport, use_reloader=False)
