"""Adding ``"django_s3_manifest_storage"`` to ``INSTALLED_APPS`` enables the
system checks; the storage works without it."""

from __future__ import annotations

from django.apps import AppConfig


class DjangoS3ManifestStorageConfig(AppConfig):
    name = "django_s3_manifest_storage"
    verbose_name = "S3 manifest storage"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
