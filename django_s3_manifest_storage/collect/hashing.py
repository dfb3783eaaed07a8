"""What shapes a collection's hashing, and what hashing yields.

Who hashes is the storage's choice (``storage.py``): without
``local_storage_class``, the storage class itself (the user's subclass
included), so every customisation a subclass of ``S3ManifestStaticStorage``
makes (``file_hash``, ``patterns``, ``manifest_name``...) shapes the local
pass exactly as it shapes the stock class; with it, that class. This module
describes the result's context: what, besides the sources, can change the
collection (``collection_context``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import marshal
import re
from collections.abc import Iterator, Mapping
from typing import Any

import django
from django.conf import settings
from django.contrib.staticfiles.storage import HashedFilesMixin, ManifestFilesMixin
from django.contrib.staticfiles.utils import matches_patterns

PostProcessResult = tuple[str, str | None, Any]

# The local hashing storage's URL when STATIC_URL cannot be: never served.
UNSERVED_BASE_URL = "/s3-manifest-staging/"

# This package's modules: the hashing methods they define are the package's,
# not a project's. Named here, not derived from this module's name, so the
# digest stays the same wherever this module lives.
PACKAGE = "django_s3_manifest_storage"

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
    # whitenoise's: which files it compresses, and which originals it removes.
    "post_process_with_compression",
    "keep_only_hashed_files",
    "delete_files",
    "create_compressor",
    "compress_files",
)


def rewritable(hasher: Any) -> list[str]:
    """The globs of files hashing may rewrite (CSS, JS...)."""
    return [glob for glob, _patterns in getattr(hasher, "patterns", ())]


def results_as_django_yields_them(
    paths: Mapping[str, Any], deployed: Mapping[str, str], rewritable: list[str]
) -> Iterator[PostProcessResult]:
    """What Django's hashing yields for files whose hashed names S3 holds,
    so collectstatic's count of post-processed files is the stock class's:
    each file once, the ones hashing rewrites (CSS, JS) last and counted as
    processed (Django rewrites them every run); the others not, their
    hashed file being there already."""
    adjustable = [name for name in paths if matches_patterns(name, rewritable)]
    last = set(adjustable)
    for name in [*(name for name in paths if name not in last), *adjustable]:
        yield name, deployed.get(name, name), name in last


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
        if not klass.__module__.startswith(
            ("django.", "storages.", "whitenoise.", f"{PACKAGE}.")
        )
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
        # whitenoise writes .br files only when Brotli can be imported.
        context["brotli"] = _version("brotli")
        relevant_settings.update(
            {
                name: getattr(settings, name)
                for name in dir(settings)
                if name.startswith("WHITENOISE_")
            }
        )
    context["settings"] = _digest(relevant_settings)
    return context
