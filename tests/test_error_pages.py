"""Errors tell people what to do, in the site's layout, never with a stack trace."""

import pytest
from django.test import Client
from django.urls import path

from tests.factories import UserFactory


def _boom(request):
    raise RuntimeError("internal detail that must not be shown")


urlpatterns = [path("boom/", _boom)]


@pytest.mark.django_db
def test_unknown_page_is_a_friendly_404(client):
    client.force_login(UserFactory())
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"We can't find that page" in response.content


@pytest.mark.urls("tests.test_error_pages")
def test_server_error_is_a_friendly_500_without_details():
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    assert b"internal detail" not in response.content and b"Traceback" not in response.content


@pytest.mark.django_db
def test_csrf_failure_explains_what_to_do():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "a@example.com", "password": "x"})
    assert response.status_code == 403
    assert b"Please try again" in response.content
