"""The hashing step of a run: incremental when the deployed release's record
allows it, else a full pass; and the record the new release leaves.

Which sources are dirty is decided in ``planning/record.py`` and
``planning/reuse.py`` (pure); this module does the reading, the hashing and
the writing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Set
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.staticfiles.utils import matches_patterns

from ..console import Hashing
from ..planning.collection import StagedCollection
from ..planning.fingerprint import content_digest
from ..planning.names import is_hashed
from ..planning.record import (
    ReleaseRecord,
    StoredObjects,
    StoredObjectsBuilder,
    first_pass_order,
    record_name,
    references_of,
)
from ..planning.reuse import Reuse, plan_reuse
from ..planning.stamp import DeployedState
from .hashing import PostProcessResult, results_as_django_yields_them, rewritable
from .references import NeedsFullPass, ReferenceRecorder
from .staging import Staging

if TYPE_CHECKING:
    from ..deploy.deployment import Deployment
    from .run_setup import RunSetup


@dataclass(frozen=True)
class HashingPass:
    """One hashing pass under way: its results (to pass on as Django yields
    them), the references it records, who hashes, and what it reuses."""

    results: Iterator[PostProcessResult]
    recorder: ReferenceRecorder
    hasher: Any
    summary: Hashing
    reuse: Reuse | None = None
    """What an incremental pass keeps of the deployed release."""

    @property
    def also_staged(self) -> Set[str]:
        """Names of the collection a full pass would have staged and S3
        holds already (the files an incremental pass kept)."""
        return self.reuse.kept_objects if self.reuse else frozenset()

    @property
    def hashed_files(self) -> Mapping[str, str] | None:
        """The hashing storage's ``{name: hashed name}``, when it keeps one
        (Django's manifest storages do): what it wrote the manifest from."""
        mapping = getattr(self.hasher, "hashed_files", None)
        return mapping if isinstance(mapping, dict) else None


class IncrementalHashing:
    """The hashing passes of one run, and the record each leaves."""

    def __init__(
        self, setup: RunSetup, staging: Staging, deployment: Deployment
    ) -> None:
        self.setup = setup
        self.staging = staging
        self.deployment = deployment
        self.recording = setup.options.incremental_hashing

    def hash(
        self,
        paths: dict[str, Any],
        digests: Mapping[str, str],
        deployed: DeployedState,
        context: Mapping[str, str],
        options: Mapping[str, Any],
    ) -> HashingPass:
        """Hash what must be: the dirty sources when the deployed release
        allows it, else every one (and the summary says why)."""
        reuse, reason = self.reuse(paths, digests, deployed, context)
        if reuse is not None:
            try:
                return self.hash_dirty(paths, reuse, options)
            except NeedsFullPass as problem:
                reason = str(problem)
        return self.hash_all(paths, options, reason)

    def reuse(
        self,
        paths: Mapping[str, Any],
        digests: Mapping[str, str],
        deployed: DeployedState,
        context: Mapping[str, str],
    ) -> tuple[Reuse | None, str | None]:
        """What of the deployed release an incremental pass keeps, or why
        every file is hashed."""
        if not self.recording:
            return None, None
        reason = self.deployment.live.reuse(deployed, context)[1]
        if reason:
            return None, reason
        assert deployed.paths is not None
        assert deployed.manifest is not None
        if deployed.stamp.record is None:
            return None, "the deployed release has no record of its sources"
        if not self.staging.temporary:
            staged = self.staging.root / self.setup.manifest_name
            if not staged.is_file() or staged.read_bytes() != deployed.manifest:
                return None, "the staging directory does not hold the deployed release"
        record, reason = self.deployment.live.deployed_record(deployed.stamp.record)
        if record is None:
            return None, reason
        hasher = self.setup.hasher(self.staging.root)
        hash_keys = {name: hasher.hash_key(hasher.clean_name(name)) for name in paths}
        return plan_reuse(
            record,
            deployed.paths,
            digests,
            hash_keys,
            self.deployment.live.remote_names(),
        )

    def hash_dirty(
        self, paths: dict[str, Any], reuse: Reuse, options: Mapping[str, Any]
    ) -> HashingPass:
        """Hash only the dirty sources, then write the whole manifest as a
        full pass would. Raises NeedsFullPass before yielding anything."""
        staging = self.staging
        dirty = reuse.dirty
        # A persistent directory ends as a full pass leaves it: the kept
        # files' originals too (the other files are there already).
        needed = set(dirty)
        if not staging.temporary:
            # A kept source is one of its own recorded objects when the
            # deployed release published its original (a set: the record's
            # list would cost a scan per name).
            needed.update(name for name in reuse.kept if name in reuse.kept_objects)
        staging.stage_found(paths, needed)
        hasher = self.setup.hasher(staging.root)
        globs = rewritable(hasher)
        recorder = ReferenceRecorder(
            kept=reuse.kept,
            adjustable=lambda name: matches_patterns(name, globs),
            materialize=staging.materialize,
        )
        summary = Hashing(len(dirty), len(paths), True, None, tuple(sorted(dirty)))
        subset = {name: source for name, source in paths.items() if name in dirty}
        results: list[PostProcessResult] = []
        with recorder.installed(hasher):
            for result in self.setup.hash_files(hasher, subset, options):
                results.append(result)
                if isinstance(result[2], Exception):
                    return HashingPass(iter(results), recorder, hasher, summary, reuse)
        hashed = dict(hasher.hashed_files)
        merged: dict[str, str] = {}
        for name in first_pass_order(paths):
            key = hasher.hash_key(hasher.clean_name(name))
            merged[key] = hashed[key] if name in dirty else reuse.kept[name]
        hasher.hashed_files = merged
        hasher.save_manifest()
        self._unstage_unpublished(reuse)
        kept_paths = {name: paths[name] for name in paths if name not in dirty}
        results.extend(results_as_django_yields_them(kept_paths, reuse.kept, globs))
        return HashingPass(iter(results), recorder, hasher, summary, reuse)

    def _unstage_unpublished(self, reuse: Reuse) -> None:
        """The kept sources' originals that the deployed release did not
        publish are not staged either: the hashing storage removed them in
        the full pass (whitenoise's keep-only-hashed mode), and removes only
        those of the files it hashes now."""
        for name in reuse.kept:
            if name not in reuse.kept_objects and self.staging.exists(name):
                self.staging.delete(name)

    def hash_all(
        self, paths: dict[str, Any], options: Mapping[str, Any], reason: str | None
    ) -> HashingPass:
        """A full pass, its references recorded when incremental hashing is on."""
        hasher = self.setup.hasher(self.staging.root)
        # The storage itself hashes through the staging directory, which
        # reads deferred files from their sources; local_storage_class reads
        # its directory itself.
        own = self.setup.hashes_itself and self.staging.temporary
        self.staging.stage_found(paths, () if own else None)
        recorder = ReferenceRecorder()
        results = self.setup.hash_files(hasher, paths, options)
        summary = Hashing(len(paths), len(paths), False, reason, tuple(sorted(paths)))
        return HashingPass(
            self._recorded(recorder, hasher, results), recorder, hasher, summary
        )

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
        digests: dict[str, str],
        hashing: HashingPass,
        collection: StagedCollection,
    ) -> str | None:
        """Write this release's record in the staging directory: its name
        (None when incremental hashing is off)."""
        if not self.recording:
            return None
        reuse = hashing.reuse
        previous = reuse.references if reuse else {}
        kept = reuse.kept if reuse else {}
        # Sorted: the parameter sets are numbered in this order, and equal
        # collections must give equal records.
        objects = tuple(sorted(collection.objects))
        record = ReleaseRecord(
            digests,
            references_of(previous, kept, hashing.recorder.references),
            objects,
            self._stored(objects, collection, digests, reuse),
        )
        name = record_name(self.setup.manifest_name)
        with (self.staging.root / name).open("w", encoding="ascii") as stream:
            stream.writelines(record.chunks())
        return name

    def _stored(
        self,
        objects: Collection[str],
        collection: StagedCollection,
        digests: Mapping[str, str],
        reuse: Reuse | None,
    ) -> StoredObjects:
        """How each object will be stored: its parameter set, and the digest
        of its bytes unless its name is hashed (content-addressed)."""
        local_paths = collection.paths
        hashed_names = collection.hashed_names
        settings = self.deployment.objects
        # Objects of kept sources are not staged: their bytes are the
        # deployed ones, as recorded.
        recorded = reuse.stored_digests if reuse else None
        kept = reuse.kept_objects if reuse else frozenset()
        stored = StoredObjectsBuilder()
        for name in objects:
            digest = None
            if name not in hashed_names:
                if recorded is not None and name in kept:
                    digest = recorded.get(name)
                elif name in local_paths and name in self.staging.deferred:
                    digest = digests.get(name)  # read from its source, as digested
                if digest is None:
                    with self.staging.file(name).open("rb") as stream:
                        digest = content_digest(stream)
            parameter_set = settings.parameter_set(name, is_hashed(name, hashed_names))
            stored.add(name, parameter_set, digest)
        return stored.build()
