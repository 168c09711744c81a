"""Support fixtures: staff users with and without the Support group, moto's S3 on loopback."""

from __future__ import annotations

import boto3
import pytest
from django.contrib.auth.models import Group
from moto.server import ThreadedMotoServer

from apps.accounts.roles import SUPPORT_GROUP, support_group_sync
from config.settings.base import _storages
from tests.factories import UserFactory

BUCKET = "likeness-test-support"


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


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(settings, moto_endpoint):
    """A fresh private bucket as the default storage (production S3 options)."""
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    storage = _storages("s3")["default"]
    storage["OPTIONS"].update(
        bucket_name=BUCKET,
        endpoint_url=moto_endpoint,
        access_key="testing",
        secret_key="testing",
        addressing_style="path",
    )
    settings.STORAGE_BACKEND = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": storage}
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def sent_messages(monkeypatch) -> list[tuple[str, tuple]]:
    """Actor sends made by enqueue_on_commit, recorded instead of sent."""
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        "config.tasks.send_now", lambda name, *args, **options: calls.append((name, args))
    )
    return calls
