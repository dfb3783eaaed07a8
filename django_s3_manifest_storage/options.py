"""This package's own storage options, taken out of ``OPTIONS`` before
django-storages sees them (it rejects keys it does not know)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from django.utils.module_loading import import_string

DEFAULT_LOCAL_STORAGE_CLASS = (
    "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
)
DEFAULT_UPLOAD_CONCURRENCY = 16
# Hashed names are content-addressed: their bytes never change, so caches may
# keep them for a year without asking. Everything else (unhashed originals,
# the manifest) must be revalidated, or browsers keep a stale copy.
DEFAULT_HASHED_CACHE_CONTROL = "public, max-age=31536000, immutable"
DEFAULT_UNHASHED_CACHE_CONTROL = "no-cache"
# Who sends the PUTs (see engines.py); "auto" prefers obstore when installed.
UPLOAD_ENGINES = ("auto", "boto3", "obstore")


OWN_OPTIONS = (
    "upload_concurrency",
    "local_storage_class",
    "local_storage_options",
    "staging_dir",
    "skip_unchanged",
    "incremental_hashing",
    "keep_releases",
    "verify_remote",
    "hashed_cache_control",
    "unhashed_cache_control",
    "upload_engine",
)


@dataclass(frozen=True)
class SyncOptions:
    upload_concurrency: int = DEFAULT_UPLOAD_CONCURRENCY
    local_storage_class: str = DEFAULT_LOCAL_STORAGE_CLASS
    local_storage_options: dict[str, Any] = field(default_factory=dict)
    staging_dir: Path | None = None
    skip_unchanged: bool = True
    incremental_hashing: bool = True
    keep_releases: int | None = None
    verify_remote: bool = False
    hashed_cache_control: str | None = DEFAULT_HASHED_CACHE_CONTROL
    unhashed_cache_control: str | None = DEFAULT_UNHASHED_CACHE_CONTROL
    upload_engine: str = "auto"
    local_storage_class_set: bool = False
    """Whether the user named ``local_storage_class`` (else the storage class
    itself hashes)."""

    @classmethod
    def pop_from(cls, options: dict[str, Any]) -> SyncOptions:
        """Remove this package's keys from ``options`` and validate them."""
        concurrency = options.pop("upload_concurrency", DEFAULT_UPLOAD_CONCURRENCY)
        if (
            isinstance(concurrency, bool)
            or not isinstance(concurrency, int)
            or (concurrency < 1)
        ):
            raise ImproperlyConfigured(
                "STORAGES['staticfiles']['OPTIONS']['upload_concurrency'] must be "
                f"a positive integer, not {concurrency!r}."
            )
        local_class_set = "local_storage_class" in options
        local_class = options.pop("local_storage_class", DEFAULT_LOCAL_STORAGE_CLASS)
        local_options = options.pop("local_storage_options", {})
        if not isinstance(local_options, dict):
            raise ImproperlyConfigured(
                "STORAGES['staticfiles']['OPTIONS']['local_storage_options'] must "
                f"be a dict, not {type(local_options).__name__}."
            )
        staging_dir = options.pop("staging_dir", None)
        skip_unchanged = _pop_bool(options, "skip_unchanged", default=True)
        incremental_hashing = _pop_bool(options, "incremental_hashing", default=True)
        verify_remote = _pop_bool(options, "verify_remote", default=False)
        keep_releases = options.pop("keep_releases", None)
        if keep_releases is not None and (
            isinstance(keep_releases, bool)
            or not isinstance(keep_releases, int)
            or keep_releases < 1
        ):
            raise ImproperlyConfigured(
                "STORAGES['staticfiles']['OPTIONS']['keep_releases'] must be a "
                f"positive integer or None, not {keep_releases!r}."
            )
        cache_control = {
            option: options.pop(option, default)
            for option, default in (
                ("hashed_cache_control", DEFAULT_HASHED_CACHE_CONTROL),
                ("unhashed_cache_control", DEFAULT_UNHASHED_CACHE_CONTROL),
            )
        }
        for option, value in cache_control.items():
            if value is not None and not isinstance(value, str):
                raise ImproperlyConfigured(
                    f"STORAGES['staticfiles']['OPTIONS']['{option}'] must be a "
                    f"Cache-Control string or None, not {value!r}."
                )
        upload_engine = options.pop("upload_engine", "auto")
        if upload_engine not in UPLOAD_ENGINES:
            raise ImproperlyConfigured(
                "STORAGES['staticfiles']['OPTIONS']['upload_engine'] must be one "
                f"of {', '.join(map(repr, UPLOAD_ENGINES))}, not {upload_engine!r}."
            )
        if upload_engine == "obstore" and importlib.util.find_spec("obstore") is None:
            raise ImproperlyConfigured(
                "STORAGES['staticfiles']['OPTIONS']['upload_engine'] is 'obstore' "
                "but obstore is not installed: pip install "
                "'django-s3-manifest-storage[fast]', or use 'auto'."
            )
        return cls(
            upload_concurrency=concurrency,
            upload_engine=upload_engine,
            local_storage_class=local_class,
            local_storage_options=local_options,
            staging_dir=Path(staging_dir) if staging_dir else None,
            skip_unchanged=skip_unchanged,
            incremental_hashing=incremental_hashing,
            keep_releases=keep_releases,
            verify_remote=verify_remote,
            local_storage_class_set=local_class_set,
            **cache_control,
        )

    def import_local_storage_class(self) -> type[ManifestFilesMixin]:
        """The local post-processing class; it must keep a manifest."""
        try:
            storage_class = import_string(self.local_storage_class)
        except ImportError as error:
            raise ImproperlyConfigured(
                "STORAGES['staticfiles']['OPTIONS']['local_storage_class'] = "
                f"{self.local_storage_class!r} cannot be imported: {error}"
            ) from error
        if not (
            isinstance(storage_class, type)
            and issubclass(storage_class, ManifestFilesMixin)
            and issubclass(storage_class, Storage)
        ):
            raise ImproperlyConfigured(
                "STORAGES['staticfiles']['OPTIONS']['local_storage_class'] = "
                f"{self.local_storage_class!r} is not a manifest storage: it must "
                "be a Storage subclass using ManifestFilesMixin, such as "
                f"{DEFAULT_LOCAL_STORAGE_CLASS!r}."
            )
        return storage_class


def _pop_bool(options: dict[str, Any], option: str, *, default: bool) -> bool:
    value = options.pop(option, default)
    if not isinstance(value, bool):
        raise ImproperlyConfigured(
            f"STORAGES['staticfiles']['OPTIONS']['{option}'] must be True or "
            f"False, not {value!r}."
        )
    return value
