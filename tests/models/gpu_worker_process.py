"""A GPU worker in a process of its own, for the kill-and-resume test: Django with the test
settings (DB, Redis broker, media and model roots from the environment the test passes), one
Dramatiq worker thread on the gpu queue, running until it is terminated or killed."""

from __future__ import annotations

import os
import signal
import sys
import threading

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
sys.path.insert(0, os.getcwd())

import django  # noqa: E402

django.setup()

import dramatiq  # noqa: E402

import workers.actors  # noqa: E402,F401

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
worker = dramatiq.Worker(dramatiq.get_broker(), queues={"gpu"}, worker_threads=1)
worker.start()
print(f"worker ready, pid {os.getpid()}", flush=True)
stop.wait()
worker.stop()
