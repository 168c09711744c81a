"""Moderation: held images are invisible to customers until approved; a rejected image is
replaced once, free; customers can report an image."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.models import AuditLog
from apps.models.models import GenerationJob
from apps.orders.models import CreditLedger
from apps.photos import moderation
from apps.photos.models import GeneratedImage
from tests.factories import (
    GeneratedImageFactory,
    LoraAdapterFactory,
    OrderFactory,
    PhotoFactory,
    SeatFactory,
    StyleFactory,
    SubjectFactory,
    member_of,
)

pytestmark = pytest.mark.django_db
HELD = GeneratedImage.Moderation.HELD


def credit_balance(*, order) -> int:
    return sum(CreditLedger.unscoped.filter(order=order).values_list("credits", flat=True))


@pytest.fixture
def customer(workspace):
    return member_of(workspace, role="owner")


@pytest.fixture
def held_image(workspace, customer):
    subject = SubjectFactory(workspace=workspace, user=customer)
    PhotoFactory(subject=subject)
    order = OrderFactory(workspace=workspace, buyer=customer, status="delivered")
    seat = SeatFactory(order=order, subject=subject)
    CreditLedger.unscoped.create(
        workspace=workspace, order=order, kind="purchase", credits=2, reference="p"
    )
    adapter = LoraAdapterFactory(subject=subject)
    job = GenerationJob.unscoped.create(
        workspace=workspace, adapter=adapter, style=StyleFactory(), seat=seat, count=4
    )
    return GeneratedImageFactory(
        subject=subject,
        adapter=adapter,
        style=job.style,
        generation_job=job,
        moderation_status=HELD,
        hold_reason=GeneratedImage.HoldReason.LOW_LIKENESS,
    )


def image_url(image, variant="full"):
    return reverse(
        "photos:generated_image",
        kwargs={"workspace": image.workspace.slug, "image": image.public_id, "variant": variant},
    )


def test_a_held_image_is_invisible_until_support_approves_it(
    client, customer, held_image, support_user
):
    order = held_image.generation_job.seat.order
    gallery = reverse(
        "orders:gallery", kwargs={"workspace": order.workspace.slug, "order": order.public_id}
    )
    client.force_login(customer)
    assert client.get(image_url(held_image)).status_code == 404
    assert client.get(image_url(held_image, "thumb")).status_code == 404
    page = client.get(gallery)
    assert page.status_code == 200 and str(held_image.public_id) not in page.text

    client.force_login(support_user)
    changelist = reverse("admin:photos_heldimage_changelist")
    page = client.get(changelist)
    assert page.status_code == 200
    # Thumbnails and the reference face come from the permission-checked admin view.
    thumb = reverse("admin:photos_heldimage_file", args=[held_image.pk, "thumb"])
    reference = reverse("admin:photos_heldimage_file", args=[held_image.pk, "reference"])
    assert thumb in page.text and reference in page.text
    assert "/media" not in page.text
    response = client.post(
        changelist, {"action": "approve_images", "_selected_action": [held_image.pk]}
    )
    assert response.status_code == 302

    held_image.refresh_from_db()
    assert held_image.moderation_status == "approved"
    assert held_image.moderated_by == support_user
    client.force_login(customer)
    assert client.get(image_url(held_image)).status_code == 200
    assert str(held_image.public_id) in client.get(gallery).text
    assert AuditLog.objects.filter(action="image.approve").count() == 1


def test_a_rejected_image_is_replaced_once_without_charging(
    client, held_image, support_user, sent_messages, django_capture_on_commit_callbacks
):
    order = held_image.generation_job.seat.order
    balance = credit_balance(order=order)
    client.force_login(support_user)
    changelist = reverse("admin:photos_heldimage_changelist")
    form = {"action": "reject_images", "_selected_action": [held_image.pk]}
    confirm = client.post(changelist, form)
    assert confirm.status_code == 200 and "Reject" in confirm.text  # the reason form
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(changelist, {**form, "apply": "1", "reason": "not_a_likeness"})
    assert done.status_code == 302

    held_image.refresh_from_db()
    assert held_image.moderation_status == "rejected"
    replacement = GenerationJob.unscoped.get(kind="replacement")
    assert (replacement.count, replacement.seat_id) == (1, held_image.generation_job.seat_id)
    assert replacement.adapter_id == held_image.adapter_id
    assert sent_messages == [("generate_images", (replacement.pk,))]
    entry = CreditLedger.unscoped.get(order=order, kind="replacement")
    assert (entry.credits, entry.reference) == (0, f"moderation:{held_image.pk}")
    assert credit_balance(order=order) == balance  # the customer paid nothing

    # The same image cannot trigger a second replacement.
    assert moderation.image_reject(image=held_image, actor=support_user, reason="other") is None
    GeneratedImage.unscoped.filter(pk=held_image.pk).update(moderation_status=HELD)
    assert moderation.image_reject(image=held_image, actor=support_user, reason="other") is None
    assert GenerationJob.unscoped.filter(kind="replacement").count() == 1

    # A replacement that is itself rejected gets its own replacement.
    second = GeneratedImageFactory(
        subject=held_image.subject,
        adapter=held_image.adapter,
        style=held_image.style,
        generation_job=replacement,
        moderation_status=HELD,
    )
    assert moderation.image_reject(image=second, actor=support_user, reason="artefacts")
    assert GenerationJob.unscoped.filter(kind="replacement").count() == 2


def test_customers_report_an_image_and_it_disappears(client, customer, held_image):
    GeneratedImage.unscoped.filter(pk=held_image.pk).update(moderation_status="delivered")
    client.force_login(customer)
    assert client.get(image_url(held_image)).status_code == 200
    url = reverse(
        "photos:image_report",
        kwargs={"workspace": held_image.workspace.slug, "image": held_image.public_id},
    )
    assert client.get(url).status_code == 405
    response = client.post(url, {"next": "/dashboard/"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    held_image.refresh_from_db()
    assert (held_image.moderation_status, held_image.hold_reason) == ("held", "reported")
    assert client.get(image_url(held_image)).status_code == 404
    # Reporting again (now hidden) is a 404, not a second report.
    assert client.post(url).status_code == 404
    assert AuditLog.objects.filter(action="image.report").count() == 1


def test_moderation_needs_the_capability(client, held_image):
    from tests.factories import UserFactory

    viewer = UserFactory(is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(
        Permission.objects.get(codename="view_heldimage"),
        Permission.objects.get(codename="view_generatedimage"),
    )
    client.force_login(viewer)
    changelist = reverse("admin:photos_heldimage_changelist")
    assert client.get(changelist).status_code == 200
    client.post(changelist, {"action": "approve_images", "_selected_action": [held_image.pk]})
    held_image.refresh_from_db()
    assert held_image.moderation_status == "held"
