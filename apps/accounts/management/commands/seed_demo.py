"""Create the demo logins for `make run` and print them: a customer and a support agent."""

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.accounts import selectors, services
from apps.accounts.models import User, Workspace
from apps.accounts.roles import SUPPORT_GROUP, support_group_sync

DEMO_EMAIL = "demo@likeness.local"
DEMO_PASSWORD = "likeness-demo-2026"  # noqa: S105 - a local demo login, printed on purpose
SUPPORT_DEMO_EMAIL = "support@likeness.local"
SUPPORT_DEMO_PASSWORD = "likeness-support-2026"  # noqa: S105 - likewise


def _user(email: str, password: str, full_name: str, **extra) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email, password=password, full_name=full_name, **extra
        )
    else:
        user.set_password(password)
        user.save(update_fields=["password"])
    if user.email_verified_at is None:
        User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
    return user


class Command(BaseCommand):
    help = "Create (or reset) the demo customer and support logins and print them."

    def handle(self, *args, **options):
        customer = _user(DEMO_EMAIL, DEMO_PASSWORD, "Demo Customer")
        if selectors.personal_workspace(customer) is None:
            services.workspace_create(owner=customer, name="Personal", kind=Workspace.Kind.PERSONAL)
        # The tiny demo model paints noise, so its portraits are held for review: this agent
        # approves them in the support site's moderation queue (/support/).
        support_group_sync()
        agent = _user(SUPPORT_DEMO_EMAIL, SUPPORT_DEMO_PASSWORD, "Demo Support", is_staff=True)
        agent.groups.add(Group.objects.get(name=SUPPORT_GROUP))
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}  (http://127.0.0.1:8000)\n"
                f"Support login: {SUPPORT_DEMO_EMAIL} / {SUPPORT_DEMO_PASSWORD}  "
                "(http://127.0.0.1:8000/support/)"
            )
        )
