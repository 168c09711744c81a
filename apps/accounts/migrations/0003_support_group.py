"""The Support group with view permissions on every customer model and the support
capabilities. Permissions are normally created after all migrations (post_migrate), so they are
created here first for the apps this group covers."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from apps.accounts.roles import SUPPORT_VIEW_APPS, support_group_sync


def forwards(apps, schema_editor):
    for label in SUPPORT_VIEW_APPS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    support_group_sync(apps)


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Support").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_support_capability_erasurerecord"),
        ("photos", "0002_support_heldimage_dataexport"),
        ("ml", "0003_initial"),
        ("orders", "0002_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
