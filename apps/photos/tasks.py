"""Imported by dramatiq-crontab's `manage.py crontab` (it loads `<app>.tasks` of every installed
app): declaring the actors registers their @cron schedules with its scheduler."""

import workers.actors  # noqa: F401
