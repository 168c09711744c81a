"""Support fixtures: staff users with and without the Support group, moto's S3 on loopback."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from apps.accounts.roles import SUPPORT_GROUP, support_group_sync
from tests.factories import UserFactory


@pytest.fixture
def support_user(db):
    """A staff member in the Support group (as the data migration makes it)."""
    support_group_sync()
    user = UserFactory(is_staff=True, email="agent@likeness.example")
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    return user


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True, email="root@likeness.example")


@pytest.fixture
def sent_messages(monkeypatch) -> list[tuple[str, tuple]]:
    """Actor sends made by enqueue_on_commit, recorded instead of sent."""
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        "config.tasks.send_now", lambda name, *args, **options: calls.append((name, args))
    )
    return calls
