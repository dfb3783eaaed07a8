"""Incremental hashing in a run: reading the deployed release's record,
hashing only the dirty sources, and writing the new release's record.

Which sources are dirty is decided in ``incremental.py`` (pure); this module
does the reading, the hashing and the writing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from io import BytesIO
from typing import TYPE_CHECKING, Any

from django.contrib.staticfiles.utils import matches_patterns

from .fingerprint import content_digest
from .hashing import (
    PostProcessResult,
    hash_files,
    hashing_storage,
    results_as_django_yields_them,
    rewritable,
)
from .incremental import (
    ReleaseRecord,
    Reuse,
    UnreadableRecord,
    collection_objects,
    first_pass_order,
    plan_reuse,
    record_name,
    references_of,
)
from .manifest import InvalidManifest, parse_manifest_paths
from .references import ReferenceRecorder
from .remote import fetch_object
from .staging import Staging
from .stamp import DeployedState

if TYPE_CHECKING:
    from .deploy import Deployment
    from .storage import ManifestSyncS3Storage


class IncrementalHashing:
    """The hashing passes of one run, and the record each leaves."""

    def __init__(
        self, storage: ManifestSyncS3Storage, staging: Staging, deployment: Deployment
    ) -> None:
        self.storage = storage
        self.staging = staging
        self.deployment = deployment
        self.recording = storage.sync_options.incremental_hashing

    def hasher(self) -> Any:
        return hashing_storage(self.storage, self.staging.root)

    def reuse(
        self,
        paths: Mapping[str, Any],
        digests: Mapping[str, str],
        deployed: DeployedState,
        context: Mapping[str, str],
    ) -> Reuse | str:
        """What of the deployed release an incremental pass keeps, or why
        every file is hashed."""
        if not self.recording:
            return ""
        reason = self.deployment.reuse(deployed, context)[1]
        if reason:
            return reason
        assert deployed.paths is not None
        assert deployed.manifest is not None
        if deployed.stamp.record is None:
            return "the deployed release has no record of its sources"
        manifest_name = self.storage.manifest_name
        if not self.staging.temporary:
            staged = self.staging.root / manifest_name
            if not staged.is_file() or staged.read_bytes() != deployed.manifest:
                return "the staging directory does not hold the deployed release"
        record = self._deployed_record(deployed.stamp.record)
        if isinstance(record, str):
            return record
        hasher = self.hasher()
        hash_keys = {name: hasher.hash_key(hasher.clean_name(name)) for name in paths}
        return plan_reuse(
            record, deployed.paths, digests, hash_keys, self.deployment.remote_names()
        )

    def _deployed_record(self, digest: str) -> ReleaseRecord | str:
        deployment = self.deployment
        name = record_name(self.storage.manifest_name)
        stored = fetch_object(
            deployment.client, deployment.bucket, deployment.prefix + name
        )
        if stored is None:
            return f"{deployment.url}/{name} is missing"
        if content_digest(BytesIO(stored.body)) != digest:
            return f"{deployment.url}/{name} belongs to another release"
        try:
            return ReleaseRecord.decode(stored.body)
        except UnreadableRecord as problem:
            return f"{deployment.url}/{name} is unreadable ({problem})"

    def hash_dirty(
        self, paths: dict[str, Any], reuse: Reuse, options: Mapping[str, Any]
    ) -> tuple[Iterator[PostProcessResult], ReferenceRecorder, Any]:
        """Hash only the dirty sources, then write the whole manifest as a
        full pass would. Raises NeedsFullPass before yielding anything."""
        staging = self.staging
        dirty = reuse.dirty
        # A persistent directory ends as a full pass leaves it: the kept
        # files' originals too (the other files are there already).
        needed = set(dirty)
        if not staging.temporary:
            needed.update(name for name in reuse.kept if name in reuse.record.objects)
        staging.stage_found(paths, needed)
        hasher = self.hasher()
        globs = rewritable(hasher)
        recorder = ReferenceRecorder(
            kept=reuse.kept,
            adjustable=lambda name: matches_patterns(name, globs),
            materialize=lambda name: staging.deferred.materialize(staging.root, name),
        )
        subset = {name: source for name, source in paths.items() if name in dirty}
        results: list[PostProcessResult] = []
        with recorder.installed(hasher):
            for result in hash_files(self.storage, hasher, subset, options):
                results.append(result)
                if isinstance(result[2], Exception):
                    return iter(results), recorder, hasher
        hashed = dict(hasher.hashed_files)
        merged: dict[str, str] = {}
        for name in first_pass_order(paths):
            key = hasher.hash_key(hasher.clean_name(name))
            merged[key] = hashed[key] if name in dirty else reuse.kept[name]
        hasher.hashed_files = merged
        hasher.save_manifest()
        kept_paths = {name: paths[name] for name in paths if name not in dirty}
        results.extend(results_as_django_yields_them(kept_paths, reuse.kept, globs))
        return iter(results), recorder, hasher

    def hash_all(
        self, paths: dict[str, Any], options: Mapping[str, Any]
    ) -> tuple[Iterator[PostProcessResult], ReferenceRecorder, Any]:
        """A full pass, its references recorded when incremental hashing is on."""
        hasher = self.hasher()
        # The storage itself hashes through the staging directory, which
        # reads deferred files from their sources; local_storage_class reads
        # its directory itself.
        own = hasher is self.storage and self.staging.temporary
        self.staging.stage_found(paths, () if own else None)
        recorder = ReferenceRecorder()
        results = hash_files(self.storage, hasher, paths, options)
        return self._recorded(recorder, hasher, results), recorder, hasher

    def _recorded(
        self,
        recorder: ReferenceRecorder,
        hasher: Any,
        results: Iterator[PostProcessResult],
    ) -> Iterator[PostProcessResult]:
        if not self.recording:
            yield from results
            return
        with recorder.installed(hasher):
            yield from results

    def write_record(
        self,
        digests: Mapping[str, str],
        recorder: ReferenceRecorder,
        reuse: Reuse | None,
        also_staged: Collection[str],
    ) -> str:
        """Write this release's record in the staging directory: its name."""
        root = self.staging.root
        manifest_name = self.storage.manifest_name
        try:
            local_paths = parse_manifest_paths((root / manifest_name).read_bytes())
        except (OSError, InvalidManifest):
            local_paths = {}  # the plan names the problem
        previous = reuse.record if reuse else ReleaseRecord({}, {}, ())
        kept = reuse.kept if reuse else {}
        record = ReleaseRecord(
            dict(digests),
            references_of(previous, kept, recorder.references),
            tuple(
                collection_objects(self.staging.names().union(also_staged), local_paths)
            ),
        )
        name = record_name(manifest_name)
        (root / name).write_bytes(record.encode())
        return name
