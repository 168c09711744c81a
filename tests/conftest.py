from __future__ import annotations

import dramatiq
import pytest
from dramatiq import Worker

from tests.factories import UserFactory, WorkspaceFactory, member_of


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Each test writes files under its own temporary media root."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": settings.MEDIA_URL},
        },
    }


@pytest.fixture
def stub_broker():
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def stub_worker(stub_broker):
    worker = Worker(stub_broker, worker_timeout=50, worker_threads=1)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def workspace(db):
    return WorkspaceFactory()


@pytest.fixture
def owner(workspace):
    return member_of(workspace, role="owner")


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture(scope="session")
def moto_endpoint():
    from tests.s3 import moto_server

    yield from moto_server()


@pytest.fixture
def s3(settings, moto_endpoint):
    """A fresh private bucket (tests.s3.BUCKET) as the default storage, production options."""
    from tests.s3 import private_bucket_storage

    yield from private_bucket_storage(settings, moto_endpoint)
