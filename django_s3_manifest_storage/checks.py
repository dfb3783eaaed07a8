"""Django system checks: settings that would make ``collectstatic`` fail,
found without the network.

Registered with the ``staticfiles`` tag, so ``collectstatic`` runs them
before collecting anything, once ``"django_s3_manifest_storage"`` is in
``INSTALLED_APPS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .errors import setting_reference
from .options import (
    DEFAULT_LOCAL_STORAGE_CLASS,
    SyncOptions,
    bucket_problem,
    configured_location,
    location_problem,
)
from .storage import ManifestSyncS3Storage

NO_BUCKET = "django_s3_manifest_storage.E001"
LOCATION_LEADING_SLASH = "django_s3_manifest_storage.E002"
UNUSABLE_LOCAL_STORAGE_CLASS = "django_s3_manifest_storage.E003"
INVALID_OPTION = "django_s3_manifest_storage.E004"


@register(Tags.staticfiles)
def check_storages(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Check every entry of ``STORAGES`` that uses ManifestSyncS3Storage."""
    return [
        message
        for alias, config in settings.STORAGES.items()
        for message in check_storage(alias, config)
    ]


def check_storage(alias: str, config: dict[str, Any]) -> list[CheckMessage]:
    storage_class = _our_storage_class(config.get("BACKEND", ""))
    if storage_class is None:
        return []
    options = dict(config.get("OPTIONS", {}))
    errors: list[CheckMessage] = []
    location = location_problem(configured_location(storage_class, options), alias)
    if location:
        errors.append(Error(location, id=LOCATION_LEADING_SLASH))
    local_class = _local_storage_class_problem(options, alias)
    if local_class:
        errors.append(
            Error(
                local_class,
                hint=f"For example {DEFAULT_LOCAL_STORAGE_CLASS!r}, or "
                "'whitenoise.storage.CompressedManifestStaticFilesStorage'.",
                id=UNUSABLE_LOCAL_STORAGE_CLASS,
            )
        )
    if errors:
        return errors
    try:
        storage = storage_class(**options)
    except ImproperlyConfigured as error:
        return [Error(str(error), id=INVALID_OPTION)]
    bucket = bucket_problem(storage.bucket_name, alias)
    return [Error(bucket, id=NO_BUCKET)] if bucket else []


def _our_storage_class(backend: str) -> type[ManifestSyncS3Storage] | None:
    try:
        storage_class = import_string(backend)
    except ImportError:
        return None  # Django reports an unimportable BACKEND itself.
    if isinstance(storage_class, type) and issubclass(
        storage_class, ManifestSyncS3Storage
    ):
        return storage_class
    return None


def _local_storage_class_problem(options: dict[str, Any], alias: str) -> str | None:
    dotted_path = options.get("local_storage_class", DEFAULT_LOCAL_STORAGE_CLASS)
    if not isinstance(dotted_path, str):
        return (
            f"{setting_reference('local_storage_class', alias)} must be a dotted "
            f"path, not {dotted_path!r}."
        )
    try:
        SyncOptions(local_storage_class=dotted_path).import_local_storage_class()
    except ImproperlyConfigured as error:
        return str(error)
    return None
