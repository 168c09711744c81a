"""Run a purge twice at once and record every storage delete.

Each run waits at its first delete until the other is inside a batch too, so both hold row
locks at the same time — which only ``SELECT … FOR UPDATE SKIP LOCKED`` allows without one run
blocking the other. Use in a ``transaction=True`` test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.core.files.storage import FileSystemStorage
from django.db import connection


def run_twice_at_once(monkeypatch, purge: Callable[[], dict]) -> tuple[list[dict], list[str]]:
    """Returns (each run's result, every deleted storage key in order). Raises what a run
    raised."""
    deleted: list[str] = []
    lock = threading.Lock()
    real_delete = FileSystemStorage.delete
    both_inside = threading.Barrier(2, timeout=20)
    started: set[int] = set()

    def recording_delete(self, name):
        with lock:
            first = threading.get_ident() not in started
            started.add(threading.get_ident())
            deleted.append(name)
        if first:
            both_inside.wait()
        return real_delete(self, name)

    monkeypatch.setattr(FileSystemStorage, "delete", recording_delete)
    start = threading.Barrier(2)
    results: list[dict] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            results.append(purge())
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results, deleted
