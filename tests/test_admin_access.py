"""Who reaches the support site (/support/, the Django admin) and what they may change.

Customers never get in; Support staff see everything but cannot grant access, touch groups, add
users or edit money and Stripe state; superusers cannot hand-edit money either.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from apps.orders.models import CreditLedger, Order, StripeEvent
from tests.factories import (
    GeneratedImageFactory,
    OrderFactory,
    PackageFactory,
    UserFactory,
    person_with_everything,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def support_user(db):
    from django.contrib.auth.models import Group

    from apps.accounts.roles import SUPPORT_GROUP, support_group_sync

    support_group_sync()
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    return user


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get("/support/")
    assert response.status_code == 302
    assert response["Location"].startswith("/support/login/")


def test_a_customer_session_is_refused_everywhere(client):
    customer = UserFactory()
    image = GeneratedImageFactory()
    client.force_login(customer)
    urls = [
        "/support/",
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[customer.pk]),
        reverse("admin:photos_generatedimage_file", args=[image.pk, "full"]),
        reverse("admin:orders_order_changelist"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/support/login/"), url
    # The login page itself does not let a customer in either.
    login = client.get("/support/login/")
    assert "not authorized" in login.text


def test_support_staff_see_but_cannot_grant_access(client, support_user):
    customer = UserFactory()
    client.force_login(support_user)
    assert client.get("/support/").status_code == 200
    change = reverse("admin:accounts_user_change", args=[customer.pk])
    page = client.get(change)
    assert page.status_code == 200
    assert 'name="is_superuser"' not in page.text and 'name="groups"' not in page.text
    posted = client.post(change, {"email": customer.email, "is_superuser": "on"})
    assert posted.status_code == 403
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403
    assert client.get(reverse("admin:auth_group_add")).status_code == 403
    assert client.get(reverse("admin:accounts_user_add")).status_code == 403
    password = reverse("admin:auth_user_password_change", args=[customer.pk])
    assert client.get(password).status_code == 403
    customer.refresh_from_db()
    assert not customer.is_superuser


def test_even_with_change_permission_support_cannot_make_a_superuser(client, support_user):
    support_user.user_permissions.add(Permission.objects.get(codename="change_user"))
    customer = UserFactory()
    client.force_login(support_user)
    change = reverse("admin:accounts_user_change", args=[customer.pk])
    page = client.get(change)
    assert 'name="is_superuser"' not in page.text and 'name="is_staff"' not in page.text
    response = client.post(
        change,
        {
            "email": customer.email,
            "full_name": "Renamed",
            "is_active": "on",
            "is_superuser": "on",
            "is_staff": "on",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.full_name == "Renamed"
    assert not customer.is_superuser and not customer.is_staff
    from apps.accounts.models import AuditLog

    audit = AuditLog.objects.get(action="admin.change.user")
    assert audit.actor_id == support_user.pk and audit.details == {"fields": ["full_name"]}


def test_money_and_stripe_state_cannot_be_edited_by_hand(client, support_user):
    order = OrderFactory(amount=4900, payment_intent_id="pi_keep")
    event = StripeEvent.objects.create(stripe_id="evt_1", type="charge.refunded", payload={})
    superuser = UserFactory(is_staff=True, is_superuser=True)
    for user in (support_user, superuser):
        client.force_login(user)
        change = reverse("admin:orders_order_change", args=[order.pk])
        page = client.get(change)
        assert page.status_code == 200 and 'name="amount"' not in page.text
        assert client.post(change, {"amount": "1", "payment_intent_id": "x"}).status_code == 403
        event_change = reverse("admin:orders_stripeevent_change", args=[event.pk])
        assert client.post(event_change, {"status": "processed"}).status_code == 403
        assert client.get(reverse("admin:orders_creditledger_add")).status_code == 403
        assert client.get(reverse("admin:orders_order_add")).status_code == 403
    order.refresh_from_db()
    assert (order.amount, order.payment_intent_id) == (4900, "pi_keep")
    assert not CreditLedger.unscoped.filter(order=order).exists()
    assert Order.unscoped.filter(pk=order.pk).exists()


def test_a_package_price_change_applies_to_new_orders_only(client):
    from tests.factories import OrderFactory

    package = PackageFactory(price_amount=2900)
    earlier = OrderFactory(package=package, amount=2900, currency=package.currency)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    change = reverse("admin:orders_package_change", args=[package.pk])
    page = client.get(change)
    assert page.status_code == 200 and 'name="price_amount"' in page.text
    package.price_amount = 3400
    package.save(update_fields=["price_amount"])
    earlier.refresh_from_db()
    assert earlier.amount == 2900


def test_thumbnails_stream_through_a_permission_checked_view(client, support_user):
    image = GeneratedImageFactory()
    url = reverse("admin:photos_generatedimage_file", args=[image.pk, "full"])
    client.force_login(support_user)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == image.image.open("rb").read()
    unknown_variant = reverse("admin:photos_generatedimage_file", args=[image.pk, "x"])
    assert client.get(unknown_variant).status_code == 404

    staff_without_role = UserFactory(is_staff=True)
    client.force_login(staff_without_role)
    assert client.get(url).status_code == 403
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 403


def test_data_export_downloads_need_the_export_capability(client, support_user):
    from tests.factories import DataExportFactory

    export = DataExportFactory()
    url = reverse("admin:photos_dataexport_file", args=[export.pk, "zip"])
    client.force_login(support_user)
    assert client.get(url).status_code == 200
    support_user.groups.clear()
    support_user.user_permissions.add(Permission.objects.get(codename="view_dataexport"))
    support_user = type(support_user).objects.get(pk=support_user.pk)  # fresh permission cache
    client.force_login(support_user)
    assert client.get(url).status_code == 403


def test_the_support_group_holds_exactly_view_and_the_capabilities(support_user):
    from apps.accounts.roles import SUPPORT_CAPABILITIES

    codes = set(
        support_user.groups.get().permissions.values_list("content_type__app_label", "codename")
    )
    capabilities = {("accounts", c) for c in SUPPORT_CAPABILITIES}
    assert capabilities <= codes
    others = codes - capabilities
    assert others and all(codename.startswith("view_") for _, codename in others)
    assert {label for label, _ in others} == {"accounts", "photos", "ml", "orders"}
    assert ("orders", "view_stripeevent") in codes and ("photos", "view_heldimage") in codes


def test_erasing_from_the_admin_asks_for_a_reason_and_records_it(
    client, support_user, django_capture_on_commit_callbacks
):
    from apps.accounts.models import ErasureRecord, User

    person = person_with_everything()
    client.force_login(support_user)
    changelist = reverse("admin:accounts_user_changelist")
    form = {"action": "erase_people", "_selected_action": [person.user.pk]}
    confirm = client.post(changelist, form)
    assert confirm.status_code == 200 and "Erase for good" in confirm.text
    assert User.objects.filter(pk=person.user.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            changelist, {**form, "apply": "1", "reason": "support_request", "confirm": "on"}
        )
    assert done.status_code == 302
    assert not User.objects.filter(pk=person.user.pk).exists()
    record = ErasureRecord.objects.get()
    assert (record.actor_id, record.actor_kind) == (support_user.pk, "staff")
    # Support finds the record from the erased user's id, though it only stores a digest.
    found = client.get(
        reverse("admin:accounts_erasurerecord_changelist"), {"q": str(person.user.public_id)}
    )
    assert str(record.public_id) in found.text
