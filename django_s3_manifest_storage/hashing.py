"""Who hashes the collection, and what shapes the result.

Without ``local_storage_class``, the storage class itself (the user's
subclass included) hashes in the staging directory, so every customisation a
subclass of ``S3ManifestStaticStorage`` makes (``file_hash``, ``patterns``,
``manifest_name``...) shapes the local pass exactly as it shapes the stock
class. With ``local_storage_class``, that class hashes; a subclass that also
customises hashing is refused, since the customisation would be ignored.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import marshal
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import django
from django.conf import settings
from django.contrib.staticfiles.storage import HashedFilesMixin, ManifestFilesMixin
from django.contrib.staticfiles.utils import matches_patterns

if TYPE_CHECKING:
    from .storage import ManifestSyncS3Storage

PostProcessResult = tuple[str, str | None, Any]

# The local hashing storage's URL when STATIC_URL cannot be: never served.
UNSERVED_BASE_URL = "/s3-manifest-staging/"

# Attributes and methods of Django's hashing mixins a subclass may change.
HASHING_ATTRIBUTES = (
    "patterns",
    "manifest_name",
    "manifest_version",
    "manifest_strict",
    "max_post_process_passes",
    "keep_intermediate_files",
    "support_js_module_import_aggregation",
    "default_template",
)
HASHING_METHODS = (
    "file_hash",
    "hashed_name",
    "url_converter",
    "clean_name",
    "hash_key",
    "stored_name",
    "_stored_name",
    "_url",
    "_post_process",
    "save_manifest",
)


def hashing_storage(storage: ManifestSyncS3Storage, root: Path) -> Any:
    """The storage that hashes: the storage class itself, or an instance of
    ``local_storage_class`` in the staging directory ``root``."""
    if not storage.sync_options.local_storage_class_set:
        return storage
    options = dict(storage.sync_options.local_storage_options)
    # Django's check of STATIC_URL and MEDIA_URL is for local serving; the
    # files are served from S3, and the hashed names do not depend on it.
    static_url = settings.STATIC_URL
    if not static_url or static_url == settings.MEDIA_URL:
        options.setdefault("base_url", UNSERVED_BASE_URL)
    return storage.local_storage_class(location=str(root), **options)


def hash_files(
    storage: ManifestSyncS3Storage,
    hasher: Any,
    paths: dict[str, Any],
    options: Mapping[str, Any],
) -> Iterator[PostProcessResult]:
    """Django's hashing of ``paths`` by ``hasher`` (see ``hashing_storage``)."""
    results: Iterator[PostProcessResult] = (
        storage.hash_in_staging(paths, **options)
        if hasher is storage
        else hasher.post_process(paths, dry_run=False, **options)
    )
    return results


def rewritable(hasher: Any) -> list[str]:
    """The globs of files hashing may rewrite (CSS, JS...)."""
    return [glob for glob, _patterns in getattr(hasher, "patterns", ())]


def results_as_django_yields_them(
    paths: Mapping[str, Any], deployed: Mapping[str, str], rewritable: list[str]
) -> Iterator[PostProcessResult]:
    """What Django's hashing yields for an unchanged collection, so
    collectstatic's count of post-processed files is the stock one: each file
    once, the ones hashing rewrites (CSS, JS) last."""
    adjustable = [name for name in paths if matches_patterns(name, rewritable)]
    last = set(adjustable)
    for name in [*(name for name in paths if name not in last), *adjustable]:
        yield name, deployed.get(name, name), True


def hashing_customisations(storage_class: type) -> list[str]:
    """Hashing attributes and methods ``storage_class`` defines below this
    package's class (that is, in a user's subclass)."""
    from .storage import ManifestSyncS3Storage

    customised: list[str] = []
    for klass in storage_class.__mro__:
        if klass is ManifestSyncS3Storage:
            break
        customised.extend(
            name
            for name in (*HASHING_ATTRIBUTES, *HASHING_METHODS)
            if name in vars(klass) and name not in customised
        )
    return customised


def _code_digest(function: Any) -> str:
    code = getattr(function, "__code__", None)
    if code is None:
        return repr(function)
    return hashlib.sha256(marshal.dumps(code)).hexdigest()[:16]


def hashing_description(
    hashing_class: type, options: Mapping[str, Any]
) -> dict[str, Any]:
    """What decides the hashed names and bytes: the class, its options, its
    hashing attributes and the code of hashing methods a project overrides."""
    overridden = {
        f"{klass.__module__}.{klass.__qualname__}.{name}": _code_digest(
            vars(klass)[name]
        )
        for klass in hashing_class.__mro__
        if not klass.__module__.startswith(("django.", "storages.", "whitenoise."))
        and klass.__module__ != __name__.rpartition(".")[0] + ".storage"
        for name in HASHING_METHODS
        if name in vars(klass)
    }
    return {
        "class": f"{hashing_class.__module__}.{hashing_class.__qualname__}",
        "options": dict(options),
        "attributes": {
            name: getattr(hashing_class, name, None) for name in HASHING_ATTRIBUTES
        },
        "overridden": overridden,
    }


def uses_whitenoise(hashing_class: type) -> bool:
    return any(
        klass.__module__.startswith("whitenoise") for klass in hashing_class.__mro__
    )


def _stable(value: Any) -> Any:
    """A JSON stand-in for a value that is the same in every process: a
    regular expression by its pattern (Django's are lazily compiled), other
    objects by their repr without memory addresses."""
    pattern = getattr(value, "pattern", None)
    if isinstance(pattern, (str, bytes)):
        return [str(pattern), getattr(value, "flags", 0)]
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


def _digest(value: Any) -> str:
    encoded = json.dumps(value, sort_keys=True, default=_stable)
    return hashlib.sha256(encoded.encode()).hexdigest()[:16]


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def collection_context(
    hashing_class: type[ManifestFilesMixin] | type[HashedFilesMixin],
    options: Mapping[str, Any],
) -> dict[str, str]:
    """Everything besides the sources that can change the collection, one
    entry per part, so a change can be named. whitenoise's version and
    settings count only when whitenoise hashes."""
    context = {
        "django": django.__version__,
        "package": _version("django-s3-manifest-storage"),
        "hashing": _digest(hashing_description(hashing_class, options)),
    }
    relevant_settings: dict[str, Any] = {"STATIC_URL": settings.STATIC_URL}
    if uses_whitenoise(hashing_class):
        context["whitenoise"] = _version("whitenoise")
        relevant_settings.update(
            {
                name: getattr(settings, name)
                for name in dir(settings)
                if name.startswith("WHITENOISE_")
            }
        )
    context["settings"] = _digest(relevant_settings)
    return context
