"""Kept releases: which ones there are, what each needs, which one to roll
back to. Pure logic, no I/O.

A kept release is a history copy of a published manifest (``history.py``).
Its id is the file stem; its hash identifies the manifest's bytes, so the
release whose hash is the live manifest's is the live one.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from ..errors import ReleaseRefused
from ..planning.names import manifest_names, published_names, with_variants


@dataclass(frozen=True)
class KeptRelease:
    id: str
    """The history copy's file stem: ``<timestamp>-<hash>``."""

    history: str
    """The history copy's name under ``location``."""

    published_at: datetime.datetime
    digest: str
    """The first 12 hex digits of the manifest's SHA-256."""


@dataclass(frozen=True)
class ReleaseContents:
    """What a release names, measured against a listing."""

    files: int
    """Objects of the release present on S3, ``.gz``/``.br`` variants included."""

    bytes: int
    missing: tuple[str, ...]
    """Names the release published that S3 does not hold (variants not
    required)."""


def live_release(
    releases: Sequence[KeptRelease], live_digest: str | None
) -> KeptRelease | None:
    """The newest kept release whose manifest is the live one's, if any."""
    return next(
        (release for release in releases if release.digest == live_digest), None
    )


def missing_files(
    paths: Mapping[str, str], present: Collection[str], *, originals: bool = True
) -> tuple[str, ...]:
    """The names of the release ``paths`` describes that are not in
    ``present``, sorted: its hashed names, and its originals when it
    published them (``originals``)."""
    names = published_names(paths, originals=originals)
    return tuple(sorted(name for name in names if name not in present))


def release_contents(
    paths: Mapping[str, str], sizes: Mapping[str, int], *, originals: bool = True
) -> ReleaseContents:
    """Count a release's objects and bytes in a listing (``{name: size}``);
    ``originals``: whether the release published its originals."""
    names = manifest_names(paths)
    on_s3 = {name for name in with_variants(names, sizes) if name in sizes}
    return ReleaseContents(
        files=len(on_s3),
        bytes=sum(sizes[name] for name in on_s3),
        missing=missing_files(paths, sizes, originals=originals),
    )


def select_release(
    releases: Sequence[KeptRelease], selector: str, live_digest: str | None
) -> KeptRelease:
    """The release ``selector`` names: an id, or ``-N``, the Nth newest kept
    release whose manifest is not the live one (``-1``: the previous one)."""
    if re.fullmatch(r"-\d+", selector):
        back = int(selector[1:])
        if back < 1:
            raise ReleaseRefused(
                "-N counts back from the live release: use -1 or more."
            )
        earlier = [release for release in releases if release.digest != live_digest]
        if back > len(earlier):
            raise ReleaseRefused(
                f"Cannot roll back {back} release(s): {len(earlier)} other "
                f"release(s) kept{_kept_ids(releases)}."
            )
        return earlier[back - 1]
    wanted = selector.removesuffix(".json").rpartition("/")[2]
    for release in releases:
        if release.id == wanted:
            return release
    raise ReleaseRefused(
        f"No kept release has the id {selector!r}{_kept_ids(releases)}."
    )


def _kept_ids(releases: Sequence[KeptRelease]) -> str:
    if not releases:
        return ""
    return "; kept: " + ", ".join(release.id for release in releases)


def shown_names(names: Sequence[str], limit: int = 20) -> list[str]:
    """At most ``limit`` names, then a line saying how many more there are."""
    lines = list(names[:limit])
    if len(names) > limit:
        lines.append(f"... and {len(names) - limit} more")
    return lines
