"""First-run set-up for `make run`: the tiny base model (if absent) and the demo account."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Prepare the embedded demo: base model registry and the demo login."

    def handle(self, *args, **options):
        from django.core.management import get_commands

        if "build_base_model" in get_commands():
            call_command("build_base_model", "--tiny", "--if-missing")
        call_command("seed_demo")
