"""Entry point for worker processes: ``dramatiq workers.worker --queues gpu -p 1 -t 1``.

Sets up Django (settings from DJANGO_SETTINGS_MODULE) and declares every actor.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup()

import workers.actors  # noqa: E402,F401
