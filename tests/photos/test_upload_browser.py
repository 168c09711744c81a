"""The upload page in Debian's chromium: picker and drag-and-drop uploads through
static/js/upload.js (one XMLHttpRequest per file), verdicts arriving by htmx polling while the
worker checks, and delete through htmx."""

from __future__ import annotations

import base64

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import sync_playwright

from apps.photos.models import Photo
from tests.factories import SubjectFactory, member_of
from tests.photos import images

pytestmark = pytest.mark.e2e

DROP = """(b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], "dropped.jpg", {type: "image/jpeg"}));
  document.querySelector("[data-dropzone]").dispatchEvent(
    new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
}"""


@pytest.mark.django_db(transaction=True)
def test_upload_page_in_a_browser(live_server, workspace, stub_broker, stub_worker, tmp_path):
    owner = member_of(workspace, role="owner")
    subject = SubjectFactory(workspace=workspace, user=owner)
    session = Client()
    session.force_login(owner)
    good = tmp_path / "IMG_0001.jpg"
    good.write_bytes(images.good_jpeg())
    fake = tmp_path / "IMG_0002.jpg"
    fake.write_bytes(images.HTML_AS_JPG)
    problems: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--headless"]
        )
        context = browser.new_context()
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": session.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(f"{live_server.url}/w/{workspace.slug}/subjects/{subject.public_id}/photos/")

        page.set_input_files('input[type="file"]', [str(good), str(fake)])
        page.wait_for_selector("#photo-list .photo.accepted", timeout=30_000)
        page.wait_for_selector("#photo-list .photo.rejected", timeout=30_000)
        assert "1 of 8–20 accepted" in page.locator("#photo-list .counter").inner_text()
        advice = page.locator("#photo-list .advice").all_inner_texts()
        assert advice == [
            "We can't read this kind of file. Please upload a photo in JPEG, PNG, WebP or HEIC "
            "format."
        ]
        # Upload rows are tidied away once their verdict is in the list.
        page.wait_for_function("!document.querySelector('.upload-item')", timeout=10_000)

        page.locator("#photo-list .photo.rejected button").click()
        page.wait_for_function(
            "document.querySelectorAll('#photo-list .photo').length === 1", timeout=10_000
        )

        page.evaluate(DROP, base64.b64encode(images.good_variants()[1]).decode())
        page.wait_for_function(
            "document.querySelectorAll('#photo-list .photo.accepted').length === 2",
            timeout=30_000,
        )
        assert "2 of 8–20 accepted" in page.locator("#photo-list .counter").inner_text()
        browser.close()

    assert problems == []
    assert Photo.unscoped.filter(subject=subject, status="accepted").count() == 2
    assert Photo.unscoped.filter(subject=subject).count() == 2
