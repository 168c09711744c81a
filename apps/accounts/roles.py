"""Staff roles. The ``Support`` group: view access to every customer-facing model plus the
support capabilities (``accounts.SupportCapability``); no add/change/delete on anything.

Superusers keep every permission. Changes that support makes go through admin actions that
call services (approve/reject images, refunds, job re-runs, erasure, export), each gated by one
capability below and recorded in the audit log.
"""

from __future__ import annotations

from django.apps import apps as global_apps

SUPPORT_GROUP = "Support"

# Apps whose every model support may view (auth, sessions and the admin log stay off-limits).
SUPPORT_VIEW_APPS = ("accounts", "photos", "ml", "orders")

SUPPORT_CAPABILITIES = (
    "moderate_images",
    "refund_orders",
    "rerun_jobs",
    "erase_persons",
    "export_persons",
)


def support_permission_codes(apps=global_apps) -> list[tuple[str, str]]:
    """(app_label, codename) of every permission the Support group holds."""
    codes = [("accounts", codename) for codename in SUPPORT_CAPABILITIES]
    for model in apps.get_models():
        opts = model._meta
        if opts.app_label in SUPPORT_VIEW_APPS and "view" in opts.default_permissions:
            codes.append((opts.app_label, f"view_{opts.model_name}"))
    return sorted(set(codes))


def support_group_sync(apps=global_apps, using: str = "default"):
    """Create the Support group or reset it to exactly the permissions above. Idempotent; run by
    the data migration and after every migrate (post_migrate, apps/accounts/apps.py)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=SUPPORT_GROUP)
    wanted = set(support_permission_codes(apps))
    candidates = (
        Permission.objects.using(using)
        .filter(
            content_type__app_label__in=sorted({label for label, _ in wanted}),
            codename__in=sorted({codename for _, codename in wanted}),
        )
        .values_list("pk", "content_type__app_label", "codename")
    )
    group.permissions.set([pk for pk, label, codename in candidates if (label, codename) in wanted])
    return group
