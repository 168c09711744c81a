from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts and workspaces"

    def ready(self) -> None:
        # Declare every actor on the configured broker so services can enqueue by name.
        import workers.actors  # noqa: F401
