"""Parsing Django staticfiles manifests (``staticfiles.json``).

Only the ``paths`` mapping matters for publishing. Extra keys (``hash``, or
``stats`` written by some storages) are ignored. Anything that is not a
version 1.0/1.1 manifest, or that names a file outside the collection (``..``,
an absolute path), is rejected with :class:`InvalidManifest`, so the caller
can treat the remote state as absent instead of trusting garbage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

SUPPORTED_VERSIONS = frozenset({"1.0", "1.1"})


class InvalidManifest(ValueError):
    """The bytes are not a manifest this package can trust."""


def parse_manifest_paths(content: bytes) -> dict[str, str]:
    """Return the ``{original name: hashed name}`` mapping of a manifest."""
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidManifest(f"not JSON ({error})") from error
    if not isinstance(document, dict):
        raise InvalidManifest(
            f"expected a JSON object, found {type(document).__name__}"
        )
    version = document.get("version")
    if version not in SUPPORTED_VERSIONS:
        raise InvalidManifest(f"unsupported manifest version {version!r}")
    paths = document.get("paths", {})
    if not isinstance(paths, dict) or not all(
        isinstance(name, str) and isinstance(hashed, str)
        for name, hashed in paths.items()
    ):
        raise InvalidManifest("'paths' is not a mapping of names to names")
    escaping = sorted(
        name
        for entry in paths.items()
        for name in entry
        if name.startswith("/") or ".." in name.split("/")
    )
    if escaping:
        raise InvalidManifest(
            f"'paths' names files outside the collection: {escaping[0]!r}"
        )
    return paths


def same_items(paths: Mapping[str, str], other: Mapping[str, str]) -> bool:
    """Whether two mappings hold the same items in the same order (the
    order a manifest lists its names in is kept wherever it is passed on)."""
    return len(paths) == len(other) and all(
        mine == theirs
        for mine, theirs in zip(paths.items(), other.items(), strict=True)
    )
