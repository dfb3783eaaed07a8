"""Reusing the deployed release: its files, when nothing that shapes them
changed, and, for incremental hashing, the hashed names of the sources that
need no hashing again. Pure logic, no I/O.

Every decision has one shape: ``(what can be reused, None)``, or ``(None,
why nothing can)``; the reason is what the summary shows.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Set
from dataclasses import dataclass

from .names import objects_of
from .record import ReleaseRecord, dirty_sources
from .stamp import DeployedState, full_upload_reason


def reusable_paths(
    deployed: DeployedState,
    context: Mapping[str, str],
    parameters: Mapping[str, str] | None,
) -> tuple[dict[str, str] | None, str | None]:
    """``(deployed paths whose files can be reused, None)``, or ``(None, why
    everything is uploaded again)``; ``parameters`` as for
    :func:`full_upload_reason`."""
    reason = full_upload_reason(deployed, context, parameters)
    return (None if reason else deployed.paths), reason


def serves(
    deployed: DeployedState,
    sources: str,
    reusable: Mapping[str, str] | None,
    present: Collection[str] | None,
) -> bool:
    """Whether S3 already serves what ``sources`` would publish: the deployed
    release was made from them, its files can be reused (``reusable``, from
    :func:`reusable_paths`) and S3 holds every object it published
    (``present``: every name S3 holds, when a listing was made)."""
    if deployed.paths is None or deployed.stamp.sources != sources:
        return False
    if reusable is None:
        return False
    return present is None or all(
        name in present for name in deployed.published_names()
    )


def hashed_on_s3(
    reusable: Mapping[str, str] | None, present: Collection[str] | None
) -> set[str]:
    """The reusable deployed hashed names S3 holds (all of them when no
    listing was made): never worth uploading early."""
    return {
        name for name in (reusable or {}).values() if present is None or name in present
    }


@dataclass(frozen=True)
class Reuse:
    """How an incremental pass reuses the deployed release.

    It keeps of the deployed release's record only what the new record
    takes from it (the references, the stored digests): at 100,000 files
    the rest (a digest per source, the list of objects, a parameter set per
    object) is tens of megabytes, and it is let go once planned."""

    references: Mapping[str, tuple[str, ...]]
    """The deployed release's recorded references."""
    stored_digests: Mapping[str, str] | None
    """The recorded digests of its objects whose names are not hashed
    (None: a version 1 record, which has none)."""
    dirty: frozenset[str]
    """The sources to hash again."""
    kept: dict[str, str]
    """``{source: deployed hashed name}`` of the others."""
    kept_objects: Set[str]
    """The recorded objects of the kept sources (S3 holds them): a kept
    source is one of them exactly when the deployed release published its
    original."""


def plan_reuse(
    record: ReleaseRecord,
    deployed_paths: Mapping[str, str],
    sources: Mapping[str, str],
    hash_keys: Mapping[str, str],
    present: Collection[str] | None,
) -> tuple[Reuse | None, str | None]:
    """What an incremental pass keeps, or why a full pass must run instead.

    ``hash_keys`` maps each source to its key in a manifest's ``paths``;
    ``present`` is every name S3 holds, when a listing was made.
    """
    dirty = dirty_sources(record, sources)
    kept: dict[str, str] = {}
    for name in sources:
        if name in dirty:
            continue
        hashed = deployed_paths.get(hash_keys[name])
        if hashed is None:
            return None, "the record does not match the deployed manifest"
        kept[name] = hashed
    kept_objects = objects_of(record.objects, kept, deployed_paths)
    if present is not None and not all(name in present for name in kept_objects):
        return None, "S3 lacks files of the deployed release"
    # Not copied into a frozenset: at 100,000 files a copy is megabytes.
    return Reuse(
        record.references,
        None if record.stored is None else record.stored.digests,
        frozenset(dirty),
        kept,
        kept_objects,
    ), None
