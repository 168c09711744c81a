"""Test settings: real PostgreSQL and Redis (as on CI), stub broker for unit tests."""

import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import _storages, env

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
DATABASES = {
    "default": env.db("TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/likeness")
}
REDIS_URL = env("TEST_REDIS_URL", default="redis://127.0.0.1:6379/15")
# Subprocess workers in tests (kill-and-resume) point these at the test process's DB/Redis/media.
DRAMATIQ_BROKER = env("TEST_DRAMATIQ_BROKER", default="stub")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(
    env("TEST_MEDIA_ROOT", default="") or tempfile.mkdtemp(prefix="likeness-test-media-")
)
STORAGES = _storages("local")
STORAGES["default"]["OPTIONS"]["location"] = str(MEDIA_ROOT)
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
MODEL_ROOT = Path(env("TEST_MODEL_ROOT", default=str(BASE_DIR / "var" / "test-models")))  # noqa: F405
STRIPE_SECRET_KEY = ""
STRIPE_WEBHOOK_SECRET = ""
ALLOWED_HOSTS = ["*"]
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="likeness-test-static-"))
