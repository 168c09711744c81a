from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts and workspaces"

    def ready(self) -> None:
        # Declare every actor on the configured broker so services can enqueue by name.
        import workers.actors  # noqa: F401

        # Keep the Support group's permissions in step with the models after every migrate
        # (and after a test database flush), as Django does for permissions themselves.
        post_migrate.connect(_sync_support_group, dispatch_uid="accounts.support_group")


def _sync_support_group(sender, using="default", **kwargs) -> None:
    from apps.accounts.roles import SUPPORT_VIEW_APPS, support_group_sync

    # Sent once per app, after that app's permissions exist: sync after each covered app.
    if getattr(sender, "label", None) in SUPPORT_VIEW_APPS:
        support_group_sync(using=using)
