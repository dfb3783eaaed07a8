"""This package's own storage options, taken out of ``OPTIONS`` before
django-storages sees them (it rejects keys it does not know), and the
settings that make a deploy impossible, found without the network: shared
by the system checks and the storage, which refuses to start a deploy."""

from __future__ import annotations

import difflib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from django.utils.module_loading import import_string

from .errors import setting_reference

DEFAULT_LOCAL_STORAGE_CLASS = (
    "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
)
DEFAULT_UPLOAD_CONCURRENCY = 16
# Hashed names are content-addressed: their bytes never change, so caches may
# keep them for a year without asking. Everything else (unhashed originals,
# the manifest) must be revalidated, or browsers keep a stale copy.
DEFAULT_HASHED_CACHE_CONTROL = "public, max-age=31536000, immutable"
DEFAULT_UNHASHED_CACHE_CONTROL = "no-cache"
# Who sends the PUTs (see upload/engines.py); "auto" prefers obstore when installed.
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
        concurrency = _pop_positive_int(
            options, "upload_concurrency", DEFAULT_UPLOAD_CONCURRENCY
        )
        assert concurrency is not None
        local_class_set = "local_storage_class" in options
        local_class = options.pop("local_storage_class", DEFAULT_LOCAL_STORAGE_CLASS)
        local_options = options.pop("local_storage_options", {})
        if not isinstance(local_options, dict):
            raise ImproperlyConfigured(
                "STORAGES['staticfiles']['OPTIONS']['local_storage_options'] must "
                f"be a dict, not {type(local_options).__name__}."
            )
        staging_dir = options.pop("staging_dir", None)
        return cls(
            upload_concurrency=concurrency,
            upload_engine=_pop_upload_engine(options),
            local_storage_class=local_class,
            local_storage_options=local_options,
            staging_dir=Path(staging_dir) if staging_dir else None,
            skip_unchanged=_pop_bool(options, "skip_unchanged", default=True),
            incremental_hashing=_pop_bool(options, "incremental_hashing", default=True),
            keep_releases=_pop_positive_int(options, "keep_releases", None),
            verify_remote=_pop_bool(options, "verify_remote", default=False),
            local_storage_class_set=local_class_set,
            hashed_cache_control=_pop_cache_control(
                options, "hashed_cache_control", DEFAULT_HASHED_CACHE_CONTROL
            ),
            unhashed_cache_control=_pop_cache_control(
                options, "unhashed_cache_control", DEFAULT_UNHASHED_CACHE_CONTROL
            ),
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


@dataclass(frozen=True)
class DeployPolicy:
    """What the deploy does beyond uploading the delta."""

    clear: bool = False
    """``collectstatic --clear``: delete every object of no kept release."""

    keep_releases: int | None = None
    """Keep the files of the last K releases, delete the rest. None: keep all."""

    verify_remote: bool = False
    """List the bucket and re-upload files the deployed manifest names but
    S3 lost."""

    retry_delays: tuple[float, ...] = ()
    """Pauses between rounds of retrying uploads that may heal."""

    @property
    def deletes(self) -> bool:
        return self.clear or self.keep_releases is not None

    @property
    def needs_listing(self) -> bool:
        return self.verify_remote or self.deletes


def _pop_positive_int(
    options: dict[str, Any], option: str, default: int | None
) -> int | None:
    """A positive integer; None only where it is the default (no limit)."""
    value = options.pop(option, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        also = " or None" if default is None else ""
        raise ImproperlyConfigured(
            f"STORAGES['staticfiles']['OPTIONS']['{option}'] must be a "
            f"positive integer{also}, not {value!r}."
        )
    return value


def _pop_cache_control(
    options: dict[str, Any], option: str, default: str | None
) -> str | None:
    value = options.pop(option, default)
    if value is not None and not isinstance(value, str):
        raise ImproperlyConfigured(
            f"STORAGES['staticfiles']['OPTIONS']['{option}'] must be a "
            f"Cache-Control string or None, not {value!r}."
        )
    return value


def _pop_upload_engine(options: dict[str, Any]) -> str:
    upload_engine: str = options.pop("upload_engine", "auto")
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
    return upload_engine


def _pop_bool(options: dict[str, Any], option: str, *, default: bool) -> bool:
    value = options.pop(option, default)
    if not isinstance(value, bool):
        raise ImproperlyConfigured(
            f"STORAGES['staticfiles']['OPTIONS']['{option}'] must be True or "
            f"False, not {value!r}."
        )
    return value


# Settings that make a deploy impossible -------------------------------------


def configured_location(storage_class: type, options: dict[str, Any]) -> str:
    """``location`` as django-storages resolves it: ``OPTIONS``, else a class
    attribute, else ``AWS_LOCATION``."""
    if "location" in options:
        return str(options["location"])
    for klass in storage_class.__mro__:
        if "location" in vars(klass):
            return str(vars(klass)["location"])
    return str(getattr(settings, "AWS_LOCATION", ""))


def location_problem(location: str, alias: str = "staticfiles") -> str | None:
    if location.startswith("/"):
        return (
            f"{setting_reference('location', alias)} = {location!r} begins with a "
            f"slash; S3 keys are relative. Use {location.lstrip('/')!r}."
        )
    return None


def bucket_problem(bucket_name: str | None, alias: str = "staticfiles") -> str | None:
    if not bucket_name:
        return (
            f"No bucket to publish to: set {setting_reference('bucket_name', alias)}."
        )
    return None


def unknown_option_problem(
    options: dict[str, Any], known: dict[str, Any], class_name: str
) -> str | None:
    """django-storages' "Invalid setting" as one line naming the key, with a
    suggestion when the key is close to a known option."""
    unknown = sorted(set(options) - set(known))
    if not unknown:
        return None
    key = unknown[0]
    close = difflib.get_close_matches(key, [*known, *OWN_OPTIONS], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{setting_reference(key)}: {class_name} has no option {key!r}.{hint}"
