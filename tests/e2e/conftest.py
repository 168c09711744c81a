"""Browser tests use the ML tests' tiny-model fixtures (the whole pipeline runs for real)."""

import os
from pathlib import Path

import dramatiq
import pytest

from tests.models.conftest import tiny_base, tiny_model_dirs  # noqa: F401


@pytest.fixture
def workers(stub_broker):
    """As deployed: one thread on the gpu queue, one on cpu + default."""
    running = [
        dramatiq.Worker(stub_broker, queues={"gpu"}, worker_threads=1, worker_timeout=50),
        dramatiq.Worker(
            stub_broker, queues={"cpu", "default"}, worker_threads=1, worker_timeout=50
        ),
    ]
    for worker in running:
        worker.start()
    yield running
    for worker in running:
        worker.stop()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("E2E_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
