"""Shared settings, driven by environment variables (django-environ).

Every integration has one section here with an on/off switch; local.py, test.py and
production.py only change what differs for their environment.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------------------------
SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "storages",
    "dramatiq_crontab",  # `manage.py crontab`: the scheduler for periodic actors
    "apps.accounts",
    "apps.photos",
    "apps.models",
    "apps.orders",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.accounts.middleware.WorkspaceMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.accounts.context_processors.site",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# Embedded default: SQLite in var/. Tests and production use PostgreSQL via DATABASE_URL.
SQLITE_PATH = env("SQLITE_PATH", default=str(BASE_DIR / "var" / "db.sqlite3"))
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:dashboard"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
INVITATION_EXPIRY_DAYS = env.int("INVITATION_EXPIRY_DAYS", default=7)
EMAIL_VERIFICATION_MAX_AGE = 3 * 24 * 3600

# --- I18n / static ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Storage ----------------------------------------------------------------------------------
# Local private files by default (served only through permission-checked views); S3 with
# STORAGE_BACKEND=s3 (private bucket, short-lived signed URLs, no overwrite).
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "/media-not-served/"
STORAGE_BACKEND = env("STORAGE_BACKEND", default="local")
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", default=None)
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", default="us-east-1")
AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID", default=None)
AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY", default=None)
SIGNED_URL_SECONDS = env.int("SIGNED_URL_SECONDS", default=300)


def _storages(backend: str) -> dict:
    if backend == "s3":
        default = {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": AWS_STORAGE_BUCKET_NAME,
                "endpoint_url": AWS_S3_ENDPOINT_URL,
                "region_name": AWS_S3_REGION_NAME,
                "access_key": AWS_ACCESS_KEY_ID,
                "secret_key": AWS_SECRET_ACCESS_KEY,
                "default_acl": "private",
                "querystring_auth": True,
                "querystring_expire": SIGNED_URL_SECONDS,
                # SigV4 signed URLs (X-Amz-Date + X-Amz-Expires): botocore would otherwise sign
                # with SigV2, which AWS has deprecated and newer regions refuse.
                "signature_version": "s3v4",
                "file_overwrite": False,
                "object_parameters": {"CacheControl": "private, max-age=0"},
            },
        }
    else:
        default = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
        }
    return {
        "default": default,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }


STORAGES = _storages(STORAGE_BACKEND)

# --- Background work (Dramatiq) ---------------------------------------------------------------
# REDIS_URL set: RedisBroker shared by web and worker processes. Absent: an in-process worker
# consumes a local broker inside the `manage.py run` process (embedded default).
REDIS_URL = env("REDIS_URL", default="")
DRAMATIQ_BROKER = env("DRAMATIQ_BROKER", default="redis" if REDIS_URL else "inprocess")
# Periodic actors (@cron) are sent by one `manage.py crontab` process; with Redis, a lock there
# keeps a second scheduler from sending everything twice. `manage.py run` runs it in-process.
DRAMATIQ_CRONTAB = {"REDIS_URL": REDIS_URL or None}

# --- Email ------------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Likeness <hello@likeness.local>")
SUPPORT_EMAIL = env("SUPPORT_EMAIL", default="support@likeness.local")

# --- Stripe -----------------------------------------------------------------------------------
# Absent keys: with DEBUG a clearly labelled local test checkout is offered; without DEBUG
# checkout is unavailable.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")

# --- Orders -----------------------------------------------------------------------------------
ORDER_MAX_SEATS = env.int("ORDER_MAX_SEATS", default=50)  # per team order
ORDER_REROLL_IMAGES = env.int("ORDER_REROLL_IMAGES", default=4)  # portraits per re-roll credit
ZIP_EXPORT_RETENTION_DAYS = env.int("ZIP_EXPORT_RETENTION_DAYS", default=7)  # "download all"

# --- ML ---------------------------------------------------------------------------------------
# BASE_MODEL_DIR: a local diffusers directory. Default: the tiny random-weight model built on
# first run into var/models (never downloaded).
MODEL_ROOT = Path(env("MODEL_ROOT", default=str(BASE_DIR / "var" / "models")))
BASE_MODEL_DIR = env("BASE_MODEL_DIR", default="")
BASE_MODEL_FAMILY = env("BASE_MODEL_FAMILY", default="sdxl")
# A generated image is delivered when its face is at most this far (dlib descriptor distance)
# from the subject's reference embedding; farther, or no face, holds it for moderation.
LIKENESS_MAX_DISTANCE = env.float("LIKENESS_MAX_DISTANCE", default=0.6)
# GPU jobs: a RUNNING job whose heartbeat is older than this is presumed dead and requeued by the
# reaper; after GPU_JOB_MAX_ATTEMPTS attempts it fails instead.
GPU_JOB_STALE_SECONDS = env.int("GPU_JOB_STALE_SECONDS", default=300)
GPU_JOB_MAX_ATTEMPTS = env.int("GPU_JOB_MAX_ATTEMPTS", default=3)

# --- Photos and retention ---------------------------------------------------------------------
PHOTO_MIN_PER_SUBJECT = 8
PHOTO_MAX_PER_SUBJECT = 20
PHOTO_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
PHOTO_CHECKS: dict = {}  # overrides for apps.photos.checks.DEFAULT_THRESHOLDS
# The wording of the consent checkbox on the subject form; bump it when the wording changes.
PHOTO_CONSENT_VERSION = "2026-1"
PHOTO_RETENTION_DAYS = env.int("PHOTO_RETENTION_DAYS", default=30)
PHOTO_RETENTION_AFTER_TRAINING_DAYS = env.int("PHOTO_RETENTION_AFTER_TRAINING_DAYS", default=7)
ADAPTER_RETENTION_DAYS = env.int("ADAPTER_RETENTION_DAYS", default=90)
GENERATED_RETENTION_DAYS = env.int("GENERATED_RETENTION_DAYS", default=365)
# A person's data export (GDPR Art. 15/20) is downloadable for this long, then purged.
DATA_EXPORT_RETENTION_DAYS = env.int("DATA_EXPORT_RETENTION_DAYS", default=7)
DATA_UPLOAD_MAX_MEMORY_SIZE = 25 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Security defaults (tightened further in production.py) -----------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
