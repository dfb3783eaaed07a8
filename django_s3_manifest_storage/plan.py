"""What to upload, in which order: pure logic, no I/O.

Hashed names are content-addressed: if the deployed manifest names a hashed
file, S3 already holds exactly those bytes (it was uploaded before that
manifest went live). So the delta is decided from the two manifests alone,
with no request per file:

* a hashed name is uploaded when the deployed manifest does not name it;
* an unhashed original is uploaded when its hashed name changed (its content,
  or the content of something it references, changed);
* compressed variants written next to a file (``.gz``/``.br``, as whitenoise
  does) follow the file they compress;
* the manifest goes last, and only when its bytes differ from the deployed one.

When a listing of the bucket is at hand (``remote_names``), a file the
deployed manifest names but S3 no longer holds is uploaded again.

Deletions are planned apart, after the new manifest is live: an object under
``location`` is stale when no kept release references it.

Hashed files go first and the manifest last, so a run that stops part-way
leaves the old manifest live and every file it names still in place.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .stamp import CollectionStamp

COMPRESSED_VARIANT_SUFFIXES = (".gz", ".br")


class StagedFileMissing(Exception):
    """The local manifest names hashed files that are not in the staging dir."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(sorted(names))
        shown = ", ".join(repr(name) for name in self.names[:5])
        more = f" and {len(self.names) - 5} more" if len(self.names) > 5 else ""
        super().__init__(
            f"The local manifest names files that were not collected: {shown}{more}"
        )


@dataclass(frozen=True)
class PublishPlan:
    """Uploads in three waves; each wave starts when the previous one is done."""

    immutable: tuple[str, ...]
    """Hashed names (and their compressed variants): new, safe to add any time."""

    originals: tuple[str, ...]
    """Unhashed names (and variants) whose content changed."""

    manifest: str | None
    """The manifest name, or None when S3 already holds the same manifest."""

    unchanged: int
    """Objects of this collection (``collection_names``) that S3 already
    holds: the summary's "unchanged"."""

    @property
    def waves(self) -> tuple[tuple[str, ...], ...]:
        manifest_wave = (self.manifest,) if self.manifest else ()
        return tuple(
            wave for wave in (self.immutable, self.originals, manifest_wave) if wave
        )


@dataclass(frozen=True)
class DeployPlan:
    """Everything a deploy would do: the dry run prints it, a deploy runs it."""

    publish: PublishPlan
    local_manifest: bytes
    local_paths: dict[str, str]
    stamp: CollectionStamp
    sizes: dict[str, int] = field(default_factory=dict)
    full_upload_reason: str | None = None
    sidecar: str | None = None
    """A staged file that travels with the manifest, uploaded just before it
    (the release's record, for incremental hashing)."""

    @property
    def upload_names(self) -> list[str]:
        """Every name the plan uploads, wave by wave."""
        return [name for wave in self.publish.waves for name in wave]

    @property
    def upload_bytes(self) -> int:
        return sum(self.sizes[name] for name in self.upload_names)


def is_hashed(name: str, hashed_names: Collection[str]) -> bool:
    """Whether a name is a hashed name or a compressed variant of one."""
    if name in hashed_names:
        return True
    base, dot, suffix = name.rpartition(".")
    return (
        bool(dot)
        and f".{suffix}" in COMPRESSED_VARIANT_SUFFIXES
        and (base in hashed_names)
    )


def variant_base(name: str) -> str | None:
    for suffix in COMPRESSED_VARIANT_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def hashed_on_s3(
    reusable: Mapping[str, str] | None, present: Collection[str] | None
) -> set[str]:
    """The reusable deployed hashed names S3 holds (all of them when no
    listing was made): never worth uploading early."""
    return {
        name for name in (reusable or {}).values() if present is None or name in present
    }


def _with_variants(names: Iterable[str], staged: Collection[str]) -> set[str]:
    result = set(names)
    result.update(
        name + suffix
        for name in list(result)
        for suffix in COMPRESSED_VARIANT_SUFFIXES
        if name + suffix in staged
    )
    return result


def collection_names(
    staged: Collection[str], local_paths: Mapping[str, str]
) -> set[str]:
    """The objects S3 holds for a collection: its hashed names, the
    originals that were collected, and the compressed variants of both."""
    hashed_names = set(local_paths.values())
    return _with_variants(
        hashed_names | {name for name in local_paths if name in staged}, staged
    )


def plan_publish(
    *,
    staged: Collection[str],
    local_paths: Mapping[str, str],
    remote_paths: Mapping[str, str] | None,
    manifest_name: str,
    manifest_unchanged: bool,
    remote_names: Collection[str] | None = None,
) -> PublishPlan:
    """Compute the uploads that make S3 serve the local collection.

    ``staged`` holds the names of the files in the staging directory (a set,
    for O(1) lookups), ``local_paths`` the new manifest's mapping and
    ``remote_paths`` the deployed one's, or None when there is none.
    ``remote_names``, when given, is every name S3 holds under ``location``.
    """
    deployed = remote_paths or {}
    hashed_names = set(local_paths.values())
    missing = hashed_names.difference(staged)
    if missing:
        raise StagedFileMissing(missing)

    def on_s3(name: str) -> bool:
        return remote_names is None or name in remote_names

    deployed_hashed_names = {name for name in deployed.values() if on_s3(name)}
    new_hashed = hashed_names - deployed_hashed_names
    # An original can be absent locally (whitenoise's keep-only-hashed mode).
    changed_originals = {
        name
        for name, hashed in local_paths.items()
        if name not in hashed_names
        and name in staged
        and (deployed.get(name) != hashed or not on_s3(name))
    }

    immutable = _with_variants(new_hashed, staged)
    originals = _with_variants(changed_originals, staged) - immutable
    if remote_names is not None:
        # Variants of files already deployed that S3 lost.
        lost_variants = {
            name
            for name in staged
            if name not in remote_names
            and (base := variant_base(name)) is not None
            and (base in hashed_names or base in local_paths)
        }
        immutable |= {name for name in lost_variants if is_hashed(name, hashed_names)}
        originals |= lost_variants - immutable
    collection = collection_names(staged, local_paths)
    return PublishPlan(
        immutable=tuple(sorted(immutable)),
        originals=tuple(sorted(originals)),
        manifest=None if manifest_unchanged else manifest_name,
        unchanged=len(collection - immutable - originals),
    )


def plan_deletions(
    *,
    present: Collection[str],
    kept_releases: Sequence[Mapping[str, str]],
    protected: Collection[str],
) -> tuple[str, ...]:
    """Names under ``location`` that no kept release references.

    ``present`` is every name S3 holds, ``kept_releases`` the manifests'
    paths of the releases to keep (the live one among them), ``protected``
    names never to delete (the live manifest, kept manifest copies).
    """
    referenced: set[str] = set(protected)
    for paths in kept_releases:
        referenced.update(paths)
        referenced.update(paths.values())

    def is_referenced(name: str) -> bool:
        base = variant_base(name)
        return name in referenced or (base is not None and base in referenced)

    return tuple(sorted(name for name in present if not is_referenced(name)))


def history_directory(manifest_name: str) -> str:
    return f"{manifest_name}.history/"


def history_name(manifest_name: str, published_at: str, manifest_digest: str) -> str:
    """The name of a published manifest's copy: sortable by time, and
    carrying the manifest's hash. ``published_at`` is a UTC timestamp such as
    ``20261128T210056123456Z``."""
    return (
        f"{history_directory(manifest_name)}{published_at}-{manifest_digest[:12]}.json"
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
