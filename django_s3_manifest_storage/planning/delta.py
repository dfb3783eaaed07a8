"""What to upload, in which order, and what to delete: pure logic, no I/O.

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

from collections.abc import Collection, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

from .collection import StagedCollection
from .names import (
    add_variants,
    is_hashed,
    is_variant_of,
    iter_collection_names,
    manifest_names,
    variant_base,
)
from .stamp import CollectionStamp


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

    immutable_headers: tuple[str, ...] = ()
    """Hashed names (and variants) S3 holds with other upload parameters:
    updated in place (``stored.py``), with the hashed wave."""

    original_headers: tuple[str, ...] = ()
    """The same for unhashed names, with the originals' wave."""

    @property
    def waves(self) -> tuple[tuple[str, ...], ...]:
        """The uploads of each wave that has any."""
        manifest_wave = (self.manifest,) if self.manifest else ()
        return tuple(
            wave for wave in (self.immutable, self.originals, manifest_wave) if wave
        )

    @property
    def stages(self) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
        """``(uploads, in-place updates)`` of each wave that has any: hashed
        names, originals, the manifest."""
        manifest_wave = (self.manifest,) if self.manifest else ()
        stages = (
            (self.immutable, self.immutable_headers),
            (self.originals, self.original_headers),
            (manifest_wave, ()),
        )
        return tuple(stage for stage in stages if stage[0] or stage[1])

    @property
    def headers(self) -> tuple[str, ...]:
        """Every object updated in place, wave by wave."""
        return (*self.immutable_headers, *self.original_headers)


@dataclass(frozen=True)
class DeployPlan:
    """Everything a deploy would do: the dry run prints it, a deploy runs it."""

    publish: PublishPlan
    collection: StagedCollection
    stamp: CollectionStamp
    full_upload_reason: str | None = None
    sidecar: str | None = None
    """A staged file that travels with the manifest, uploaded just before it
    (the release's record, for incremental hashing)."""
    sidecar_bytes: int = 0
    """The bytes the sidecar is sent as."""

    @property
    def local_manifest(self) -> bytes:
        return self.collection.manifest

    @property
    def local_paths(self) -> Mapping[str, str]:
        return self.collection.paths

    @property
    def upload_names(self) -> list[str]:
        """Every name the plan uploads, wave by wave."""
        return [name for wave in self.publish.waves for name in wave]

    def companions(self, history: str | None) -> dict[str, int]:
        """``{name: bytes}`` of what goes just before the manifest, besides
        the waves: the history copy ``history`` (first: pruning keeps only
        the releases it has copies of, so the live one must have one) and
        the record of sources."""
        extra: dict[str, int] = {}
        if history is not None and self.publish.manifest:
            extra[history] = len(self.collection.manifest)
        if self.sidecar is not None:
            extra[self.sidecar] = self.sidecar_bytes
        return extra


def plan_publish(
    *,
    staged: Collection[str],
    local_paths: Mapping[str, str],
    remote_paths: Mapping[str, str] | None,
    manifest_name: str,
    manifest_unchanged: bool,
    remote_names: Collection[str] | None = None,
    hashed_names: Set[str] | None = None,
) -> PublishPlan:
    """Compute the uploads that make S3 serve the local collection.

    ``staged`` holds the names of the files in the staging directory (a set,
    for O(1) lookups), ``local_paths`` the new manifest's mapping and
    ``remote_paths`` the deployed one's, or None when there is none.
    ``remote_names``, when given, is every name S3 holds under ``location``.
    ``hashed_names``: the set of ``local_paths``' hashed names, when the
    caller holds one.
    """
    deployed = remote_paths or {}
    if hashed_names is None:
        hashed_names = set(local_paths.values())
    missing = {name for name in hashed_names if name not in staged}
    if missing:
        raise StagedFileMissing(missing)

    def on_s3(name: str) -> bool:
        return remote_names is None or name in remote_names

    deployed_hashed_names = {name for name in deployed.values() if on_s3(name)}
    new_hashed = {name for name in hashed_names if name not in deployed_hashed_names}
    # An original can be absent locally (whitenoise's keep-only-hashed mode).
    changed_originals = {
        name
        for name, hashed in local_paths.items()
        if name not in hashed_names
        and name in staged
        and (deployed.get(name) != hashed or not on_s3(name))
    }

    immutable = add_variants(new_hashed, staged)
    originals = add_variants(changed_originals, staged)
    originals.difference_update(immutable)
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
    unchanged = sum(
        1
        for name in iter_collection_names(staged, local_paths, hashed_names)
        if name not in immutable and name not in originals
    )
    return PublishPlan(
        immutable=tuple(sorted(immutable)),
        originals=tuple(sorted(originals)),
        manifest=None if manifest_unchanged else manifest_name,
        unchanged=unchanged,
    )


@dataclass(frozen=True)
class Deletions:
    """What retention deletes after a deploy, and what it leaves alone."""

    stale: tuple[str, ...] = ()
    left_alone: int = 0
    """Objects under the location that belong to no release."""


def plan_retention(
    *,
    present: Collection[str],
    kept_releases: Sequence[Mapping[str, str]],
    protected: Collection[str],
    published: Collection[str] | None = None,
) -> Deletions:
    """What to delete under ``location``: the names no kept release
    references, among those a release published; and how many names
    belong to no release and stay.

    ``present`` is every name S3 holds, ``kept_releases`` the manifests'
    paths of the releases to keep (the live one among them), ``protected``
    names never to delete (the live manifest, kept manifest copies).
    ``published``: the names releases of this package put there (their
    names, hashed names and history copies), whose compressed variants are
    theirs too; anything else under the location is someone else's (a
    compressor's output, files saved at run time) and is left alone. None:
    every name is a candidate (``--clear``).
    """
    referenced = _referenced(kept_releases, protected)
    unreferenced = [name for name in present if not _named(name, referenced)]
    stale = sorted(
        name for name in unreferenced if published is None or _named(name, published)
    )
    return Deletions(tuple(stale), len(unreferenced) - len(stale))


def plan_deletions(
    *,
    present: Collection[str],
    kept_releases: Sequence[Mapping[str, str]],
    protected: Collection[str],
    published: Collection[str] | None = None,
) -> tuple[str, ...]:
    """The names ``plan_retention`` deletes."""
    return plan_retention(
        present=present,
        kept_releases=kept_releases,
        protected=protected,
        published=published,
    ).stale


def _referenced(
    kept_releases: Sequence[Mapping[str, str]], protected: Collection[str]
) -> set[str]:
    referenced: set[str] = set(protected)
    for paths in kept_releases:
        referenced.update(manifest_names(paths))
    return referenced


def _named(name: str, names: Collection[str]) -> bool:
    """Whether ``name`` is one of ``names`` or a compressed variant of one."""
    return name in names or is_variant_of(name, names)
