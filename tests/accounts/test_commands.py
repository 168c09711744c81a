import pytest
from django.core.management import call_command
from django.test import Client

from apps.accounts.management.commands import seed_demo
from apps.accounts.models import Membership

pytestmark = pytest.mark.django_db


def test_seed_demo_logins_work_and_running_it_twice_changes_nothing(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    assert seed_demo.DEMO_PASSWORD in capsys.readouterr().out

    customer = Client()
    assert customer.login(email=seed_demo.DEMO_EMAIL, password=seed_demo.DEMO_PASSWORD)
    assert Membership.objects.filter(user__email=seed_demo.DEMO_EMAIL).count() == 1
    assert customer.get("/support/").status_code == 302  # customers are not staff

    agent = Client()
    assert agent.login(email=seed_demo.SUPPORT_DEMO_EMAIL, password=seed_demo.SUPPORT_DEMO_PASSWORD)
    assert agent.get("/support/photos/heldimage/").status_code == 200  # the moderation queue
    assert agent.get("/support/auth/group/").status_code == 403  # not a superuser
