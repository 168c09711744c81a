"""Seed the three packages. Staff edit them afterwards in the support site; re-running this
migration never overwrites an edited package (get_or_create by slug)."""

from django.db import migrations

PACKAGES = [
    {
        "slug": "starter",
        "name": "Starter",
        "description": "40 portraits in 4 styles of your choice.",
        "per_seat": False,
        "price_amount": 2900,
        "currency": "usd",
        "images_per_seat": 40,
        "styles_count": 4,
        "reroll_credits": 2,
        "sort_order": 10,
    },
    {
        "slug": "professional",
        "name": "Professional",
        "description": "100 portraits in 8 styles of your choice.",
        "per_seat": False,
        "price_amount": 5900,
        "currency": "usd",
        "images_per_seat": 100,
        "styles_count": 8,
        "reroll_credits": 5,
        "sort_order": 20,
    },
    {
        "slug": "team",
        "name": "Team",
        "description": "60 portraits per person in your company's styles; one payment for all.",
        "per_seat": True,
        "price_amount": 3900,
        "currency": "usd",
        "images_per_seat": 60,
        "styles_count": 4,
        "reroll_credits": 2,
        "sort_order": 30,
    },
]


def seed(apps, schema_editor):
    Package = apps.get_model("orders", "Package")
    for fields in PACKAGES:
        Package.objects.get_or_create(slug=fields["slug"], defaults=fields)


class Migration(migrations.Migration):
    dependencies = [("orders", "0003_checkout_attempts_and_exports")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
