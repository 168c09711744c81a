"""A business orders team headshots, in Debian's chromium against the live test server with
workers on every queue and the tiny model:

owner signs up -> team workspace -> invites a colleague by email -> team order (one seat, the
company styles) -> gives the seat to the invited address -> pays once (local test checkout) ->
the colleague opens the emailed link, creates an account, accepts, confirms consent on their own
upload page and uploads 8 selfies -> their seat trains and is delivered by itself.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db import connection
from playwright.sync_api import expect, sync_playwright

from apps.models.models import TrainingJob
from apps.orders.models import Order, Package
from apps.photos.models import Subject
from tests.e2e.test_customer_flow import selfies
from tests.factories import StyleFactory

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OWNER_PASSWORD = "a-long-passphrase-42"
COLLEAGUE_PASSWORD = "another-long-pass-77"


def test_owner_pays_once_and_the_invited_colleague_uploads_their_own_photos(
    live_server, settings, tiny_base, workers, stub_broker, tmp_path, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.DEBUG = True
    settings.SITE_URL = live_server.url
    tiny_base("sdxl")
    Package.objects.update_or_create(
        slug="team",
        defaults={
            "name": "Team",
            "per_seat": True,
            "price_amount": 3900,
            "currency": "usd",
            "images_per_seat": 60,
            "styles_count": 4,
            "reroll_credits": 1,
        },
    )
    for slug, name in [("studio-grey", "Studio grey"), ("corporate-office", "Corporate office")]:
        StyleFactory(slug=slug, name=name)
    photos = selfies(tmp_path)
    problems: list[str] = []
    base = live_server.url

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        owner = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        owner.on("pageerror", lambda error: problems.append(str(error)))

        owner.goto(f"{base}/accounts/signup/")
        owner.get_by_label("Your name").fill("Olivia Owner")
        owner.get_by_label("Email").fill("olivia@acme.example")
        owner.get_by_label("Password").fill(OWNER_PASSWORD)
        owner.get_by_role("button", name="Create account").click()
        owner.get_by_label("Team name").fill("Acme Corp")
        owner.get_by_role("button", name="Create team workspace").click()
        expect(owner.get_by_role("heading", name="Acme Corp")).to_be_visible()

        owner.get_by_label("Email").fill("sam@acme.example")
        owner.get_by_role("button", name="Send invitation").click()
        expect(owner.get_by_text("Invitation sent to sam@acme.example.")).to_be_visible()
        stub_broker.join("default", timeout=30_000)
        [invitation] = [m for m in mail.outbox if m.to == ["sam@acme.example"]]
        link = re.search(r"https?://\S+/invitations/\S+/", invitation.body).group(0)

        owner.goto(f"{base}/dashboard/")
        owner.locator(".workspace", has_text="Acme Corp").get_by_role(
            "link", name="New order"
        ).click()
        owner.get_by_role("radio", name=re.compile("^Team")).check()
        owner.get_by_label("Studio grey").check()
        owner.get_by_label("Corporate office").check()
        owner.get_by_label("I am the person in the photos").check()
        owner.get_by_role("button", name="Create order").click()
        expect(owner.get_by_role("heading", name="Team order")).to_be_visible()
        order_url = owner.url
        seat_form = owner.locator("form[action*='/assign/']").first
        seat_form.locator("input[name=email]").fill("sam@acme.example")
        seat_form.get_by_role("button", name="Assign").click()
        owner.get_by_role("button", name="Pay $39.00").click()
        owner.get_by_role("button", name="Complete test payment").click()
        expect(owner.get_by_text("Test payment received")).to_be_visible()

        colleague = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        colleague.on("pageerror", lambda error: problems.append(str(error)))
        colleague.goto(link.replace(settings.SITE_URL, base))
        colleague.get_by_role("link", name="Create account").click()
        colleague.get_by_label("Your name").fill("Sam Member")
        colleague.get_by_label("Email").fill("sam@acme.example")
        colleague.get_by_label("Password").fill(COLLEAGUE_PASSWORD)
        colleague.get_by_role("button", name="Create account").click()
        colleague.get_by_role("button", name="Accept invitation").click()
        expect(colleague.get_by_text("You joined Acme Corp.")).to_be_visible()

        colleague.goto(order_url)
        colleague.get_by_role("link", name="Upload photos").click()
        expect(colleague.get_by_role("heading", name="Photos of Sam Member")).to_be_visible()
        expect(colleague.locator('input[type="file"]')).to_have_count(0)  # consent first
        colleague.get_by_label("These photos are of me").check()
        colleague.get_by_role("button", name="Continue to upload").click()
        expect(colleague.get_by_text("or drop photos here")).to_be_visible()
        colleague.set_input_files('input[type="file"]', photos)
        expect(colleague.locator("#photo-list .photo.accepted")).to_have_count(8, timeout=120_000)

        # Paid and ready: Sam's seat trains and generates by itself (the tiny model is quick);
        # the owner's order page follows it to delivery.
        owner.goto(order_url)
        expect(owner.get_by_text("Portraits ready.")).to_be_visible(timeout=240_000)
        colleague.goto(order_url + "gallery/")  # Sam sees the gallery of their own seat
        expect(colleague.get_by_role("heading", name="Your portraits")).to_be_visible()
        for page in (owner, colleague):
            page.goto("about:blank")  # stop htmx polling before the live server goes away
        browser.close()
        connection.close()

    assert problems == []
    order = Order.unscoped.get()
    assert (order.seats, order.amount, order.paid_at is not None) == (1, 3900, True)
    subject = Subject.unscoped.get(seat__order=order)
    assert subject.user.email == "sam@acme.example"
    assert subject.consent_given_by == subject.user  # Sam consented, not the owner
    assert TrainingJob.unscoped.filter(subject=subject, seat__order=order).count() == 1
    assert order.status == Order.Status.DELIVERED
    ready = [m for m in mail.outbox if m.subject == "Your portraits are ready"]
    assert [m.to for m in ready] == [["olivia@acme.example"]]  # one email, to the buyer
    [own] = [m for m in mail.outbox if m.subject == "Your Acme Corp headshots are ready"]
    assert own.to == ["sam@acme.example"] and "/gallery/" in own.body
