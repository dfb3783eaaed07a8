"""The history copies of published manifests: their names, and the kept
releases they stand for. Pure logic, no I/O.

A deploy with retention stores a copy of the manifest it publishes under
``<manifest>.history/<UTC timestamp>-<sha256[:12]>.json``: sortable by time,
and carrying the hash of the manifest's bytes, so the release whose hash is
the live manifest's is the live one.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Collection, Iterable

from .model import KeptRelease

TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
RELEASE_ID = re.compile(r"(?P<published>\d{8}T\d{12}Z)-(?P<digest>[0-9a-f]{12})")


def manifest_digest(body: bytes) -> str:
    """The SHA-256 a history copy's name carries (of the decoded bytes)."""
    return hashlib.sha256(body).hexdigest()


def history_directory(manifest_name: str) -> str:
    return f"{manifest_name}.history/"


def history_name(manifest_name: str, published_at: str, manifest_digest: str) -> str:
    """The name of a published manifest's copy. ``published_at`` is a UTC
    timestamp in ``TIMESTAMP_FORMAT``, such as ``20261128T210056123456Z``."""
    return (
        f"{history_directory(manifest_name)}{published_at}-{manifest_digest[:12]}.json"
    )


def new_history_name(manifest_name: str, manifest: bytes) -> str:
    """The name of the copy of ``manifest`` published now."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return history_name(
        manifest_name, now.strftime(TIMESTAMP_FORMAT), manifest_digest(manifest)
    )


def newest_history(
    present: Collection[str], manifest_name: str, count: int
) -> list[str]:
    """The ``count`` newest manifest copies among ``present``, newest first."""
    directory = history_directory(manifest_name)
    copies = sorted(
        (name for name in present if name.startswith(directory)), reverse=True
    )
    return copies[:count]


def kept_release_names(
    present: Collection[str],
    manifest_name: str,
    keep_releases: int | None,
    *,
    clear: bool,
) -> list[str] | None:
    """The history copies whose files retention keeps, newest first; ``[]``
    for ``--clear`` or no retention, None when nothing may be pruned yet:
    releases published before copies were kept are unknown, and their files
    may still be in use."""
    if keep_releases is None or clear:
        return []
    kept = newest_history(present, manifest_name, keep_releases)
    return kept if len(kept) >= keep_releases else None


def kept_releases(names: Iterable[str], manifest_name: str) -> list[KeptRelease]:
    """The history copies among ``names`` (relative to ``location``), newest
    first. Other files in the history directory are ignored."""
    directory = history_directory(manifest_name)
    releases = []
    for name in names:
        if not name.startswith(directory) or not name.endswith(".json"):
            continue
        stem = name[len(directory) : -len(".json")]
        match = RELEASE_ID.fullmatch(stem)
        if match is None:
            continue
        published = datetime.datetime.strptime(
            match["published"], TIMESTAMP_FORMAT
        ).replace(tzinfo=datetime.timezone.utc)
        releases.append(KeptRelease(stem, name, published, match["digest"]))
    return sorted(releases, key=lambda release: release.id, reverse=True)
