"""Settings for the example site.

``STATIC_BACKEND`` picks where static files are served from:

    s3 (default)  S3 through ManifestSyncS3Storage. The bucket and endpoint come
                  from the environment (``demo.py`` sets them for its local S3):
                  STATIC_S3_BUCKET (required), STATIC_S3_ENDPOINT_URL (unset
                  means AWS), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
                  AWS_S3_REGION_NAME.
    whitenoise    the application itself, with whitenoise, from STATIC_ROOT
                  (``STATIC_ROOT`` in the environment, else ./staticfiles).

Both hash and compress with whitenoise's CompressedManifestStaticFilesStorage,
so both produce the same hashed names and the same files: only the host in
the URLs differs.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "example-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "site_assets",
    "django_s3_manifest_storage",  # system checks for the storage settings
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "example.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }
}
USE_TZ = True

STATIC_URL = "/static/"
HASHING_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
STATIC_BACKEND = os.environ.get("STATIC_BACKEND", "s3")
if STATIC_BACKEND == "s3":
    STATIC_ROOT = None
    STATICFILES_STORAGE_SETTINGS = {
        "BACKEND": "django_s3_manifest_storage.ManifestSyncS3Storage",
        "OPTIONS": {
            "bucket_name": os.environ.get("STATIC_S3_BUCKET", ""),
            "endpoint_url": os.environ.get("STATIC_S3_ENDPOINT_URL") or None,
            "location": "static",
            "upload_concurrency": 16,
            "local_storage_class": HASHING_STORAGE,
            # Keep the last 5 releases: `manage.py staticreleases` lists them
            # and rolls back to one.
            "keep_releases": 5,
        },
    }
elif STATIC_BACKEND == "whitenoise":
    STATIC_ROOT = os.environ.get("STATIC_ROOT") or str(BASE_DIR / "staticfiles")
    STATICFILES_STORAGE_SETTINGS = {"BACKEND": HASHING_STORAGE}
    # First, so static requests skip the rest of the stack.
    MIDDLEWARE.insert(0, "whitenoise.middleware.WhiteNoiseMiddleware")
else:
    raise ImproperlyConfigured(
        f"STATIC_BACKEND must be 's3' or 'whitenoise', not {STATIC_BACKEND!r}."
    )
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": STATICFILES_STORAGE_SETTINGS,
}
