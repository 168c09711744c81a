"""Create the demo account for `make run` and print its login."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.accounts import selectors, services
from apps.accounts.models import User, Workspace

DEMO_EMAIL = "demo@likeness.local"
DEMO_PASSWORD = "likeness-demo-2026"  # noqa: S105 - a local demo login, printed on purpose


class Command(BaseCommand):
    help = "Create (or reset) the demo account and print its login."

    def handle(self, *args, **options):
        user = User.objects.filter(email=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_user(
                email=DEMO_EMAIL, password=DEMO_PASSWORD, full_name="Demo Customer"
            )
        else:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        if user.email_verified_at is None:
            User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
        if selectors.personal_workspace(user) is None:
            services.workspace_create(owner=user, name="Personal", kind=Workspace.Kind.PERSONAL)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}  (http://127.0.0.1:8000)"
            )
        )
