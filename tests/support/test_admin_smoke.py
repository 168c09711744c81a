"""Every registered admin page renders for a superuser with data present; search finds people
by e-mail and orders by any Stripe id."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from apps.accounts.models import ErasureRecord
from tests.factories import person_with_everything

pytestmark = pytest.mark.django_db


@pytest.fixture
def populated(superuser):
    person = person_with_everything()
    ErasureRecord.objects.create(scope="subject", reason="legal", counts={"photos": 1})
    return person


def registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def test_every_changelist_and_a_change_page_render(client, superuser, populated):
    client.force_login(superuser)
    assert client.get("/support/").status_code == 200
    for model, model_admin in registered():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = client.get(changelist)
        assert response.status_code == 200, (opts.label, response.status_code)
        obj = model_admin.get_queryset(response.wsgi_request).order_by("pk").first()
        assert obj is not None, f"no {opts.label} row to open"
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        response = client.get(change)
        assert response.status_code == 200, (opts.label, response.status_code)


@pytest.mark.parametrize(
    ("changelist", "query", "expected"),
    [
        ("admin:accounts_user_changelist", lambda p: p.user.email, lambda p: p.user.email),
        ("admin:orders_order_changelist", lambda p: p.user.email, lambda p: p.order.public_id),
        (
            "admin:orders_order_changelist",
            lambda p: p.order.payment_intent_id,
            lambda p: p.order.public_id,
        ),
        (
            "admin:orders_order_changelist",
            lambda p: p.order.checkout_session_id,
            lambda p: p.order.public_id,
        ),
        ("admin:orders_order_changelist", lambda p: p.order.public_id, lambda p: p.order.public_id),
        (
            "admin:orders_stripeevent_changelist",
            lambda p: p.event.stripe_id,
            lambda p: p.event.stripe_id,
        ),
        ("admin:photos_subject_changelist", lambda p: p.user.email, lambda p: p.subject.public_id),
        ("admin:accounts_workspace_changelist", lambda p: p.user.email, lambda p: p.team.slug),
    ],
)
def test_search(client, superuser, populated, changelist, query, expected):
    client.force_login(superuser)
    response = client.get(reverse(changelist), {"q": str(query(populated))})
    assert response.status_code == 200
    assert str(expected(populated)) in response.text


def test_related_objects_are_one_click_away(client, superuser, populated):
    client.force_login(superuser)
    page = client.get(reverse("admin:orders_order_change", args=[populated.order.pk])).text
    assert reverse("admin:accounts_workspace_change", args=[populated.home.pk]) in page
    assert reverse("admin:accounts_user_change", args=[populated.user.pk]) in page
    assert reverse("admin:orders_seat_change", args=[populated.seat.pk]) in page
    page = client.get(reverse("admin:photos_subject_change", args=[populated.subject.pk])).text
    assert reverse("admin:orders_order_change", args=[populated.order.pk]) in page
    assert reverse("admin:accounts_user_change", args=[populated.user.pk]) in page
    # Filtered changelist links work (the admin accepts the lookups they use).
    photos = client.get(
        reverse("admin:photos_photo_changelist"), {"subject__id__exact": populated.subject.pk}
    )
    assert photos.status_code == 200 and str(populated.photos[0].public_id) in photos.text
    images = client.get(
        reverse("admin:photos_generatedimage_changelist"),
        {"workspace__id__exact": populated.home.pk},
    )
    assert images.status_code == 200 and str(populated.images[0].public_id) in images.text


def test_retention_view_shows_the_schedule_and_purges_on_request(client, support_user, populated):
    from datetime import timedelta

    from django.utils import timezone

    from apps.photos.models import Photo

    Photo.unscoped.filter(pk=populated.photos[0].pk).update(
        purge_after=timezone.now() - timedelta(days=1)
    )
    url = reverse("admin:accounts_workspace_retention", args=[populated.home.pk])
    client.force_login(support_user)
    page = client.get(url)
    assert page.status_code == 200
    assert "Uploaded photos" in page.text and str(populated.photos[0].public_id) in page.text
    assert reverse("admin:accounts_workspace_change", args=[populated.home.pk]) in page.text
    response = client.post(url)
    assert response.status_code == 302
    photo = Photo.unscoped.get(pk=populated.photos[0].pk)
    assert photo.purged_at is not None and not photo.image


def test_order_page_shows_amounts_formatted_for_support(client, superuser):
    from django.urls import reverse

    from tests.factories import OrderFactory

    order = OrderFactory(amount=7800, currency="usd")
    client.force_login(superuser)
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "78.00 USD" in page and ">7800<" not in page
