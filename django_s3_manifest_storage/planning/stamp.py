"""What a published release records, and why a deploy cannot reuse it: pure.

The manifest object's user metadata (``x-amz-meta-*``) carries a stamp:

* ``collection-sources``: one digest of every source file and the context;
* ``collection-context``: the context, one entry per part (``django=5.2.8;
  hashing=…``), so a change can be named;
* ``collection-parameters``: one digest per upload parameter (``CacheControl=…``)
  over every name, so a change of parameters can be named too;
* ``collection-record``: the content digest of the release's record
  (incremental hashing, ``record.py``), so a record another deploy wrote
  meanwhile is never taken for this manifest's;
* ``collection-objects``: how many objects the collection has on S3
  (originals, hashed names and their compressed variants), so a deploy that
  skips hashing reports the same "unchanged" count as one that hashes;
* ``collection-originals``: how many unhashed originals the release
  published: 0 when the hashing storage removed them (whitenoise's
  keep-only-hashed mode), so verify and rollback do not ask for them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Set
from dataclasses import dataclass, field

from .manifest import InvalidManifest, parse_manifest_paths
from .names import iter_collection_names, manifest_names, published_names

SOURCES_METADATA_KEY = "collection-sources"
CONTEXT_METADATA_KEY = "collection-context"
PARAMETERS_METADATA_KEY = "collection-parameters"
RECORD_METADATA_KEY = "collection-record"
OBJECTS_METADATA_KEY = "collection-objects"
ORIGINALS_METADATA_KEY = "collection-originals"

# How each context part is named when it changed; versions are shown as values.
CONTEXT_PART_NAMES = {
    "hashing": "the local storage class, its options or its hashing settings",
    "settings": "STATIC_URL or the WHITENOISE_* settings",
}
VERSIONED_PARTS = {
    "django": "Django",
    "package": "django-s3-manifest-storage",
    "whitenoise": "whitenoise",
    "brotli": "Brotli",
}


def encode_parts(parts: Mapping[str, str]) -> str:
    """``{"a": "1", "b": "2"}`` as ``a=1;b=2`` (metadata values are strings)."""
    return ";".join(f"{key}={value}" for key, value in sorted(parts.items()))


def decode_parts(encoded: str | None) -> dict[str, str] | None:
    """The inverse of :func:`encode_parts`; None for absent or foreign values."""
    if not encoded:
        return None
    parts: dict[str, str] = {}
    for item in encoded.split(";"):
        key, equals, value = item.partition("=")
        if not equals:
            return None  # written by an older version: a bare digest
        parts[key] = value
    return parts


@dataclass(frozen=True)
class CollectionStamp:
    """What is recorded with a published manifest about how it was made."""

    sources: str | None
    context: dict[str, str] | None = None
    parameters: dict[str, str] | None = None
    record: str | None = None
    object_count: int | None = None
    """The number of the collection's objects (``names.collection_names``)."""
    originals: int | None = None
    """The number of unhashed originals published (None: not recorded)."""

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> CollectionStamp:
        objects = metadata.get(OBJECTS_METADATA_KEY, "")
        originals = metadata.get(ORIGINALS_METADATA_KEY, "")
        return cls(
            metadata.get(SOURCES_METADATA_KEY),
            decode_parts(metadata.get(CONTEXT_METADATA_KEY)),
            decode_parts(metadata.get(PARAMETERS_METADATA_KEY)),
            metadata.get(RECORD_METADATA_KEY),
            int(objects) if objects.isdigit() else None,
            int(originals) if originals.isdigit() else None,
        )

    @property
    def originals_published(self) -> bool:
        """Whether the release's originals are among its objects: unless it
        recorded that it published none."""
        return self.originals != 0

    def metadata(self) -> dict[str, str]:
        values = {
            SOURCES_METADATA_KEY: self.sources,
            CONTEXT_METADATA_KEY: encode_parts(self.context or {}),
            PARAMETERS_METADATA_KEY: encode_parts(self.parameters or {}),
            RECORD_METADATA_KEY: self.record,
            OBJECTS_METADATA_KEY: (
                None if self.object_count is None else str(self.object_count)
            ),
            ORIGINALS_METADATA_KEY: (
                None if self.originals is None else str(self.originals)
            ),
        }
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True)
class DeployedState:
    """The manifest live on S3, if any, and its stamp."""

    manifest: bytes | None
    paths: dict[str, str] | None
    stamp: CollectionStamp = field(default_factory=lambda: CollectionStamp(None))
    problem: str | None = None
    """Why the manifest on S3 is unusable, when it is."""

    @classmethod
    def absent(cls) -> DeployedState:
        return cls(None, None)

    @classmethod
    def parse(cls, body: bytes, metadata: Mapping[str, str]) -> DeployedState:
        stamp = CollectionStamp.from_metadata(metadata)
        try:
            return cls(body, parse_manifest_paths(body), stamp)
        except InvalidManifest as problem:
            return cls(body, None, stamp, problem=str(problem))

    def manifest_names(self, hashed_names: Set[str]) -> Iterator[str]:
        """Every name the manifest lists, once (originals, then hashed
        names), without a set of them all; ``hashed_names``: the set
        ``hashed_names()`` gives."""
        paths = self.paths or {}
        yield from paths
        yield from (name for name in hashed_names if name not in paths)

    def published_names(self) -> set[str]:
        """The names the release put on S3 (before compressed variants)."""
        return published_names(
            self.paths or {}, originals=self.stamp.originals_published
        )

    def hashed_names(self) -> set[str]:
        return set((self.paths or {}).values())

    def object_count(self) -> int:
        """How many objects the collection has on S3, as recorded; a release
        recorded without the count is counted by its manifest's names (its
        compressed variants are unknown)."""
        if self.stamp.object_count is not None:
            return self.stamp.object_count
        return len(manifest_names(self.paths or {}))


def collection_stamp(
    sources: str | None,
    context: Mapping[str, str],
    parameters: dict[str, str],
    record: str | None,
    staged: Collection[str],
    local_paths: Mapping[str, str],
    hashed_names: Set[str] | None = None,
) -> CollectionStamp:
    """What a manifest records about how it was made; ``staged``: the names
    of the collection's files (those an incremental pass kept included);
    ``hashed_names``: the set of ``local_paths``' hashed names, when the
    caller holds one."""
    if hashed_names is None:
        hashed_names = set(local_paths.values())
    return CollectionStamp(
        sources,
        dict(context),
        parameters,
        record,
        sum(1 for _ in iter_collection_names(staged, local_paths, hashed_names)),
        sum(1 for name in local_paths if name in staged and name not in hashed_names),
    )


def context_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Human-readable differences between two contexts."""
    changes = []
    for part in sorted({*old, *new}):
        before, after = old.get(part), new.get(part)
        if before == after:
            continue
        if part in VERSIONED_PARTS:
            name = VERSIONED_PARTS[part]
            changes.append(f"{name} {before or 'absent'} -> {after or 'absent'}")
        else:
            changes.append(f"{CONTEXT_PART_NAMES.get(part, part)} changed")
    return changes


def full_upload_reason(
    deployed: DeployedState,
    context: Mapping[str, str],
    parameters: Mapping[str, str] | None,
) -> str | None:
    """Why none of the deployed files can be reused, or None when they can.

    ``parameters`` are today's digests of the deployed names' upload
    parameters (None when there is no deployed manifest to compute them on).
    """
    if deployed.manifest is None:
        return "no manifest on S3 yet"
    if deployed.paths is None:
        return f"the manifest on S3 is unusable ({deployed.problem})"
    stamp = deployed.stamp
    if stamp == CollectionStamp(None):
        # Published by another tool (S3ManifestStaticStorage): the files it
        # names are on S3, with the headers that tool gave them.
        return None
    if stamp.context is None or stamp.parameters is None:
        return "the deployed release was recorded by an older version"
    # Another local storage class, version or setting may write files the
    # manifest does not list (compressed variants): upload everything.
    changes = context_changes(stamp.context, context)
    if changes:
        return "; ".join(changes)
    if parameters is not None and stamp.parameters != parameters:
        changed = sorted(
            key
            for key in {*stamp.parameters, *parameters}
            if stamp.parameters.get(key) != parameters.get(key)
        )
        return "upload parameters changed: " + ", ".join(changed)
    return None
