"""Order pages through the test client: create, pay (local test checkout), progress, receipts,
gallery (favourites, downloads, zip), the download policy, and who sees what in a team."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse

from apps.accounts.models import Workspace
from apps.models.models import GenerationJob
from apps.orders import services
from apps.orders.models import CreditLedger, Order, Package, Seat, ZipExport
from apps.photos.models import GeneratedImage, Subject
from tests.factories import (
    GeneratedImageFactory,
    PackageFactory,
    UserFactory,
    WorkspaceFactory,
    member_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, tuple]]:
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        "config.tasks.send_now", lambda name, *args, **options: calls.append((name, args))
    )
    return calls


def url(name: str, order: Order | None = None, **kwargs) -> str:
    if order is not None:
        kwargs.update(workspace=order.workspace.slug, order=order.public_id)
    return reverse(f"orders:{name}", kwargs=kwargs)


@pytest.fixture
def seeded_packages(db):
    """The migration's packages (re-made if a transactional test flushed them)."""
    PackageFactory(
        slug="starter",
        name="Starter",
        price_amount=2900,
        images_per_seat=40,
        styles_count=4,
        reroll_credits=2,
        sort_order=10,
    )
    PackageFactory(
        slug="professional",
        name="Professional",
        price_amount=5900,
        images_per_seat=100,
        styles_count=8,
        reroll_credits=5,
        sort_order=20,
    )
    PackageFactory(
        slug="team",
        name="Team",
        per_seat=True,
        price_amount=3900,
        images_per_seat=60,
        styles_count=4,
        reroll_credits=2,
        sort_order=30,
    )
    return {p.slug: p for p in Package.objects.all()}


def delivered_order(make_order, *, images: int = 3, held: int = 1) -> tuple[Order, list]:
    order = make_order()
    Order.unscoped.filter(pk=order.pk).update(
        status=Order.Status.DELIVERED, paid_at=order.created_at, delivered_at=order.created_at
    )
    order.refresh_from_db()
    CreditLedger.unscoped.create(
        workspace=order.workspace, order=order, kind="purchase", credits=2, reference="pi_1"
    )
    seat = order.seat_set.get()
    Seat.unscoped.filter(pk=seat.pk).update(status=Seat.Status.DELIVERED)
    style = order.styles.first()
    visible = [GeneratedImageFactory(subject=seat.subject, style=style) for _ in range(images)]
    for _ in range(held):
        GeneratedImageFactory(subject=seat.subject, style=style, moderation_status="held")
    return order, visible


def test_migration_seeds_the_three_packages():
    seeded = {p.slug: p for p in Package.objects.all()}
    if not seeded:
        pytest.skip("a transactional test flushed the seeded rows earlier in this run")
    starter, pro, team = seeded["starter"], seeded["professional"], seeded["team"]
    assert (starter.images_per_seat, starter.styles_count, starter.price_amount) == (40, 4, 2900)
    assert (pro.images_per_seat, pro.styles_count, pro.price_amount) == (100, 8, 5900)
    assert (team.per_seat, team.images_per_seat, team.price_amount) == (True, 60, 3900)
    assert all(p.currency == "usd" and p.reroll_credits > 0 for p in (starter, pro, team))


def test_pricing_lists_the_packages(client, seeded_packages):
    response = client.get(reverse("orders:pricing"))
    assert response.status_code == 200
    for text in (b"Starter", b"$29.00", b"Professional", b"$59.00", b"Team", b"per person"):
        assert text in response.content


def test_workspace_card_links_to_orders(client, owner, workspace):
    client.force_login(owner)
    response = client.get(reverse("accounts:dashboard"))
    assert url("list", workspace=workspace.slug).encode() in response.content


# --- Creating orders --------------------------------------------------------------------------


@pytest.fixture
def personal(db):
    from apps.accounts import services as account_services

    user = UserFactory()
    account_services.workspace_create(owner=user, name="Personal", kind=Workspace.Kind.PERSONAL)
    return user, user.workspaces.get()


def test_create_an_order_then_see_the_upload_link(client, personal, seeded_packages, styles):
    user, workspace = personal
    client.force_login(user)
    response = client.post(
        url("new", workspace=workspace.slug),
        {
            "package": seeded_packages["starter"].pk,
            "styles": [s.pk for s in styles[:3]],
            "consent": "on",
        },
    )
    order = Order.objects.for_workspace(workspace).get()
    assert response.status_code == 302 and response["Location"] == url("detail", order)
    assert (order.amount, order.currency, order.status) == (2900, "usd", Order.Status.DRAFT)
    assert order.styles.count() == 3
    seat = order.seat_set.get()
    assert seat.member == user and seat.subject.user == user
    assert seat.subject.consent_given_by == user and seat.subject.consent_given_at

    page = client.get(url("detail", order))
    upload = reverse(
        "photos:subject_photos",
        kwargs={"workspace": workspace.slug, "subject": seat.subject.public_id},
    )
    assert upload.encode() in page.content
    assert b"Waiting for photos" in page.content


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"consent": ""}, b"permission"),
        ({"styles": "five"}, b"includes 4 styles"),
        ({"styles": "none"}, b"at least one style"),
    ],
)
def test_order_form_errors_are_plain_words(
    client, personal, seeded_packages, styles, change, message
):
    from tests.factories import StyleFactory

    user, workspace = personal
    client.force_login(user)
    data = {"package": seeded_packages["starter"].pk, "styles": [styles[0].pk], "consent": "on"}
    data.update(change)
    if data["styles"] == "five":
        data["styles"] = [s.pk for s in styles] + [StyleFactory().pk]
    elif data["styles"] == "none":
        data["styles"] = []
    response = client.post(url("new", workspace=workspace.slug), data)
    assert response.status_code == 200
    assert message in response.content
    assert not Order.objects.for_workspace(workspace).exists()
    assert not Subject.objects.for_workspace(workspace).exists()


def test_team_package_is_not_offered_to_a_personal_workspace(client, personal, seeded_packages):
    user, workspace = personal
    client.force_login(user)
    page = client.get(url("new", workspace=workspace.slug))
    assert b"Starter" in page.content and b"Team" not in page.content


def test_team_order_locks_company_styles_and_makes_one_seat_per_person(
    client, seeded_packages, styles
):
    workspace = WorkspaceFactory()
    owner = member_of(workspace, role="owner")
    client.force_login(owner)
    response = client.post(
        url("new", workspace=workspace.slug),
        {
            "package": seeded_packages["team"].pk,
            "styles": [s.pk for s in styles[:2]],
            "seats": 3,
            "consent": "on",
        },
    )
    assert response.status_code == 302
    order = Order.objects.for_workspace(workspace).get()
    assert (order.seats, order.amount) == (3, 3 * 3900)
    assert order.seat_set.count() == 3
    workspace.refresh_from_db()
    assert workspace.team_style_slugs == [s.slug for s in styles[:2]]

    # The next team order uses the locked styles whatever is ticked.
    client.post(
        url("new", workspace=workspace.slug),
        {
            "package": seeded_packages["team"].pk,
            "styles": [styles[3].pk],
            "seats": 1,
            "consent": "on",
        },
    )
    second = Order.objects.for_workspace(workspace).order_by("-created_at").first()
    assert set(second.styles.values_list("slug", flat=True)) == set(workspace.team_style_slugs)


def test_members_cannot_create_orders(client, workspace, seeded_packages):
    member = member_of(workspace)
    client.force_login(member)
    assert client.get(url("new", workspace=workspace.slug)).status_code == 404


# --- Paying -----------------------------------------------------------------------------------


def test_test_checkout_is_404_without_debug(client, make_order):
    order = make_order()
    client.force_login(order.buyer)
    assert client.get(url("test_checkout", order)).status_code == 404
    assert client.post(url("test_checkout", order)).status_code == 404
    response = client.post(url("checkout", order), follow=True)
    assert b"Payments are not set up" in response.content
    order.refresh_from_db()
    assert order.paid_at is None


def test_test_checkout_pays_through_the_webhook_service(
    client, make_order, settings, sent, django_capture_on_commit_callbacks
):
    settings.DEBUG = True
    order = make_order()
    client.force_login(order.buyer)
    response = client.post(url("checkout", order))
    assert response.status_code == 302 and response["Location"] == url("test_checkout", order)
    page = client.get(url("test_checkout", order))
    assert b"TEST CHECKOUT" in page.content and b"no real payment" in page.content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("test_checkout", order))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.paid_at is not None and order.status == Order.Status.PROCESSING
    assert CreditLedger.unscoped.get(order=order).kind == "purchase"
    assert ("send_order_email", (order.pk, "paid")) in sent
    assert client.get(url("receipt", order)).status_code == 200


def test_receipt_only_after_payment(client, make_order):
    order = make_order()
    client.force_login(order.buyer)
    assert client.get(url("receipt", order)).status_code == 404


def test_progress_partial_polls_while_work_is_running(client, make_order, settings):
    settings.DEBUG = True
    order = make_order()
    client.force_login(order.buyer)
    services.order_test_checkout_complete(order=order, actor=order.buyer)
    partial = client.get(url("progress", order))
    assert partial.status_code == 200
    assert b'hx-trigger="every 2s"' in partial.content
    assert b"Learning the likeness: 0%" in partial.content


def test_order_history_lists_orders_with_receipts(client, make_order):
    order = make_order()
    Order.unscoped.filter(pk=order.pk).update(status="paid", paid_at=order.created_at)
    client.force_login(order.buyer)
    page = client.get(url("list", workspace=order.workspace.slug))
    assert url("receipt", order).encode() in page.content
    assert b"$29.00" in page.content


# --- Gallery ----------------------------------------------------------------------------------


def test_gallery_shows_visible_portraits_and_counts_held_ones(client, make_order):
    order, visible = delivered_order(make_order)
    client.force_login(order.buyer)
    page = client.get(url("gallery", order))
    assert page.status_code == 200
    for image in visible:
        thumb = reverse(
            "photos:generated_image",
            kwargs={
                "workspace": order.workspace.slug,
                "image": image.public_id,
                "variant": "thumb",
            },
        )
        assert thumb.encode() in page.content
    assert b"3 portraits" in page.content and b"1 more is being reviewed" in page.content
    assert b"2</strong> re-roll credits" in page.content


def test_favourite_toggle_and_download(client, make_order):
    order, visible = delivered_order(make_order)
    image = visible[0]
    client.force_login(order.buyer)
    favourite = url("favourite", order, portrait=image.public_id)
    response = client.post(favourite, {"favourite": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"\xe2\x98\x85 Favourite" in response.content
    image.refresh_from_db()
    assert image.is_favourite
    client.post(favourite, {"favourite": "0"})
    image.refresh_from_db()
    assert not image.is_favourite

    download = client.get(url("download", order, portrait=image.public_id))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Type"] == "image/png"
    assert b"".join(download.streaming_content).startswith(b"\x89PNG")


def test_held_images_cannot_be_downloaded(client, make_order):
    order, _ = delivered_order(make_order)
    held = GeneratedImage.unscoped.get(moderation_status="held")
    client.force_login(order.buyer)
    assert client.get(url("download", order, portrait=held.public_id)).status_code == 404


@pytest.mark.parametrize("status", [Order.Status.REFUNDED, Order.Status.DISPUTED])
def test_refunded_or_disputed_orders_have_no_downloads(client, make_order, status):
    order, visible = delivered_order(make_order)
    Order.unscoped.filter(pk=order.pk).update(status=status)
    client.force_login(order.buyer)
    page = client.get(url("gallery", order))
    assert page.status_code == 200
    assert b"refunded" in page.content or b"dispute" in page.content
    assert str(visible[0].public_id).encode() not in page.content
    portrait = visible[0].public_id
    assert client.get(url("download", order, portrait=portrait)).status_code == 404
    assert client.post(url("favourite", order, portrait=portrait)).status_code == 404
    assert client.post(url("export_create", order), follow=True).status_code == 200
    assert not ZipExport.unscoped.exists()


def test_download_all_builds_a_zip_with_progress(
    client, make_order, sent, django_capture_on_commit_callbacks
):
    order, visible = delivered_order(make_order)
    client.force_login(order.buyer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("export_create", order), HTTP_HX_REQUEST="true")
    export = ZipExport.unscoped.get()
    assert response.status_code == 200 and b"Preparing your zip" in response.content
    assert ("build_order_export", (export.pk,)) in sent

    assert services.zip_export_build(export_id=export.pk) is True
    assert services.zip_export_build(export_id=export.pk) is False  # a redelivery does nothing
    export.refresh_from_db()
    assert (export.status, export.progress_done, export.progress_total) == ("ready", 3, 3)
    assert export.file.name.startswith(f"ws/{order.workspace.public_id}/exports/")

    status = client.get(url("export_status", order, export=export.public_id))
    assert b"Download all" in status.content and b"hx-trigger" not in status.content
    download = client.get(url("export_download", order, export=export.public_id))
    assert download["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    names = archive.namelist()
    assert len(names) == 3 and all(name.endswith(".png") for name in names)
    assert all(archive.read(name).startswith(b"\x89PNG") for name in names)


def test_reroll_from_the_gallery(client, make_order, sent, django_capture_on_commit_callbacks):
    order, visible = delivered_order(make_order)
    seat = order.seat_set.get()
    adapter_subject = seat.subject
    from tests.factories import LoraAdapterFactory

    LoraAdapterFactory(subject=adapter_subject, workspace=order.workspace)
    style = order.styles.first()
    client.force_login(order.buyer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("reroll", order), {"seat": seat.public_id, "style": style.slug}, follow=True
        )
    assert b"One credit spent" in response.content
    job = GenerationJob.unscoped.get(kind="reroll")
    assert ("generate_images", (job.pk,)) in sent
    assert b"1</strong> re-roll credit" in response.content


# --- Teams: seats and who sees what -----------------------------------------------------------


def test_seat_assignment_and_member_visibility(client, make_order):
    order = make_order(seats=2, photos=False)
    Workspace.objects.filter(pk=order.workspace_id).update(kind=Workspace.Kind.TEAM)
    first, second = order.seat_set.order_by("pk")
    member = member_of(order.workspace, full_name="Robin Member")
    outsider = member_of(order.workspace)

    client.force_login(order.buyer)
    response = client.post(
        url("seat_assign", order, seat=first.public_id), {"member": member.public_id}, follow=True
    )
    assert b"Seat assigned" in response.content
    first.refresh_from_db()
    first.subject.refresh_from_db()
    assert first.member == member and first.subject.user == member
    assert first.subject.display_name == "Robin Member"
    client.post(url("seat_assign", order, seat=second.public_id), {"email": "new@example.com"})
    second.refresh_from_db()
    assert second.invited_email == "new@example.com"

    client.force_login(member)
    page = client.get(url("detail", order))
    assert page.status_code == 200
    assert b"Robin Member" in page.content
    assert str(second.subject.public_id).encode() not in page.content
    assert client.post(url("checkout", order)).status_code == 404  # managers pay

    client.force_login(outsider)
    assert client.get(url("detail", order)).status_code == 404
    listing = client.get(url("list", workspace=order.workspace.slug)).content
    assert url("detail", order).encode() not in listing


def test_a_seat_held_for_an_invited_address_is_claimed_after_joining(make_order):
    order = make_order(seats=2, photos=False)
    Workspace.objects.filter(pk=order.workspace_id).update(kind=Workspace.Kind.TEAM)
    seat = order.seat_set.order_by("pk").first()
    services.seat_assign(seat=seat, actor=order.buyer, email="Joiner@Example.com")
    joiner = member_of(order.workspace, email="joiner@example.com")

    assert services.seats_claim_for_member(workspace=order.workspace, user=joiner) == 1
    seat.refresh_from_db()
    seat.subject.refresh_from_db()
    assert (seat.member, seat.invited_email, seat.subject.user) == (joiner, "", joiner)
    assert services.seats_claim_for_member(workspace=order.workspace, user=joiner) == 0


def test_accepting_the_invitation_claims_the_held_seat(make_order):
    from apps.accounts import services as account_services
    from tests.factories import UserFactory

    order = make_order(seats=2, photos=False)
    Workspace.objects.filter(pk=order.workspace_id).update(kind=Workspace.Kind.TEAM)
    order.workspace.refresh_from_db()
    seat = order.seat_set.order_by("pk").first()
    services.seat_assign(seat=seat, actor=order.buyer, email="colleague@example.com")
    _, token = account_services.invitation_create(
        workspace=order.workspace, invited_by=order.buyer, email="colleague@example.com"
    )
    colleague = UserFactory(email="colleague@example.com")

    account_services.invitation_accept(token=token, user=colleague)

    seat.refresh_from_db()
    assert (seat.member, seat.invited_email) == (colleague, "")


@pytest.mark.parametrize("status", ["refunded", "disputed"])
def test_image_urls_stop_serving_after_a_refund_or_dispute(client, make_order, status):
    order, visible = delivered_order(make_order)
    client.force_login(order.buyer)
    image_url = reverse(
        "photos:generated_image",
        kwargs={
            "workspace": order.workspace.slug,
            "image": visible[0].public_id,
            "variant": "full",
        },
    )
    assert client.get(image_url).status_code == 200
    Order.unscoped.filter(pk=order.pk).update(status=status)
    assert client.get(image_url).status_code == 404


def test_gallery_report_button_holds_the_image_for_review(client, make_order):
    order, visible = delivered_order(make_order)
    client.force_login(order.buyer)
    page = client.get(url("gallery", order))
    report = reverse(
        "photos:image_report",
        kwargs={"workspace": order.workspace.slug, "image": visible[0].public_id},
    )
    assert report.encode() in page.content
    client.post(report, {"next": url("gallery", order)})
    visible[0].refresh_from_db()
    assert visible[0].moderation_status == GeneratedImage.Moderation.HELD
    assert visible[0].hold_reason == GeneratedImage.HoldReason.REPORTED
    assert report.encode() not in client.get(url("gallery", order)).content
