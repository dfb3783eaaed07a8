"""Settings for the example site.

Static files go to S3 through ManifestSyncS3Storage. The bucket and endpoint
come from the environment (``demo.py`` sets them for its local S3):

    STATIC_S3_BUCKET        bucket name (required)
    STATIC_S3_ENDPOINT_URL  S3 endpoint; unset means AWS
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_S3_REGION_NAME
"""

import os
from pathlib import Path

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
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django_s3_manifest_storage.ManifestSyncS3Storage",
        "OPTIONS": {
            "bucket_name": os.environ.get("STATIC_S3_BUCKET", ""),
            "endpoint_url": os.environ.get("STATIC_S3_ENDPOINT_URL") or None,
            "location": "static",
            "upload_concurrency": 16,
        },
    },
}

# Show the one-line publish summary that collectstatic's storage logs.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_s3_manifest_storage": {"handlers": ["console"], "level": "INFO"},
    },
}
