"""One collectstatic run: everything it owns, and the order of its work.

A run starts when collectstatic first calls the storage and ends when
``post_process`` returns or raises (or, if collectstatic fails before
post-processing, when its command object goes away). It owns the staging
directory, the deferred copies, the early uploads and the deployed state read
from S3, and cleans them up in ``close()``. The storage keeps only the result.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Collection, Iterator, Mapping
from dataclasses import replace
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.staticfiles.utils import matches_patterns
from django.core.files.base import ContentFile

from .command import CommandOptions
from .deploy import Deployment, DeployPolicy
from .early import EarlyUploads
from .engines import make_uploader
from .fingerprint import content_digest, digest_found_files, sources_fingerprint
from .hashing import collection_context
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
from .references import NeedsFullPass, ReferenceRecorder
from .remote import fetch_object
from .reports import DryRunReport, Hashing, PublishReport
from .staging import Staging, staged_names
from .stamp import DeployedState
from .waves import publish_plan

if TYPE_CHECKING:
    from .storage import ManifestSyncS3Storage

PostProcessResult = tuple[str, str | None, Any]

# The local hashing storage's URL when STATIC_URL cannot be: never served.
UNSERVED_BASE_URL = "/s3-manifest-staging/"

logger = logging.getLogger("django_s3_manifest_storage")


class CollectRun:
    """One run of collectstatic against one storage."""

    def __init__(
        self, storage: ManifestSyncS3Storage, options: CommandOptions, command: Any
    ) -> None:
        self.storage = storage
        self.options = options
        self.thread = threading.get_ident()
        self._command = None if command is None else weakref.ref(command)
        # A dry run changes nothing, STATIC_ROOT included.
        persistent = None if options.dry_run else storage.persistent_staging_dir
        self.staging = Staging(persistent)
        self.post_processing = False
        self.succeeded = False
        self.closed = False
        self.report: PublishReport | None = None
        self.dry_run_report: DryRunReport | None = None
        self.early: EarlyUploads | None = None
        # The deployed manifest is read while collectstatic copies files.
        self.deployment = Deployment(
            destination=storage,
            client=storage.s3_client,
            uploader=make_uploader(storage),
            manifest_name=storage.manifest_name,
            policy=DeployPolicy(
                clear=options.clear,
                keep_releases=storage.sync_options.keep_releases,
                verify_remote=storage.sync_options.verify_remote,
                retry_delays=tuple(storage.upload_retry_delays),
            ),
            command=options,
        )

    @classmethod
    def start(
        cls, storage: ManifestSyncS3Storage, options: CommandOptions, command: Any
    ) -> CollectRun:
        run = cls(storage, options, command)
        if command is not None:
            # collectstatic failed before post_process: clean up when its
            # command goes away, or at exit (Ctrl-C included).
            weakref.finalize(command, storage._end_run, run)
        return run

    def belongs_to_this_thread(self) -> bool:
        return threading.get_ident() == self.thread

    def is_for(self, command: Any) -> bool:
        return self._command is not None and self._command() is command

    def close(self) -> None:
        """Stop what is still running, record what a failed run stored, and
        remove a temporary staging directory. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.early is not None:
                self.early.cancel()
            if not self.succeeded and self.deployment.resume is not None:
                self.deployment.resume.save()
        finally:
            self.staging.discard()

    # The work ------------------------------------------------------------

    def post_process(
        self, paths: dict[str, Any], *, dry_run: bool, **options: Any
    ) -> Iterator[PostProcessResult]:
        self.post_processing = True
        storage = self.storage
        hashing_class = storage.local_storage_class
        local_options = storage.sync_options.local_storage_options
        context = collection_context(hashing_class, local_options)
        digests = dict(digest_found_files(paths))
        sources = sources_fingerprint(digests.items(), context)
        deployment = self.deployment
        deployed = deployment.deployed()
        if storage.sync_options.skip_unchanged and deployment.serves(
            deployed, sources, context
        ):
            assert deployed.paths is not None
            if dry_run:
                self.dry_run_report = DryRunReport(
                    destination=deployment.url,
                    uploads=(),
                    upload_bytes=0,
                    unchanged=len(deployed.collection_names()),
                    deletions=deployment.pruning.stale_names(deployed.paths),
                )
                self.dry_run_report.write_to(self.options)
            else:
                self.report = deployment.adopt(deployed)
                self._adopt(deployed)
                yield from _results_as_django_yields_them(
                    paths, deployed.paths, _rewritable(storage)
                )
                self._summarise(self.report)
            self.succeeded = True
            return
        recording = storage.sync_options.incremental_hashing
        reuse = self._reuse(paths, digests, deployed, context)
        hashing: Hashing
        results: Iterator[PostProcessResult]
        early = not dry_run
        if isinstance(reuse, Reuse):
            try:
                results, recorder, hasher = self._hash_incrementally(
                    paths, reuse, options
                )
            except NeedsFullPass as problem:
                reuse = str(problem)
            else:
                hashing = Hashing(
                    len(reuse.dirty), len(paths), True, None, tuple(sorted(reuse.dirty))
                )
                early = False
        if not isinstance(reuse, Reuse):
            self._stage(paths)
            hasher = self._hasher()
            recorder = ReferenceRecorder()
            results = self._recorded(
                recorder,
                hasher,
                storage.hash_in_staging(paths, **options)
                if hasher is storage
                else hasher.post_process(paths, dry_run=False, **options),
                recording,
            )
            hashing = Hashing(
                len(paths),
                len(paths),
                False,
                reuse or None,
                tuple(sorted(paths)),
            )
        kept = reuse if isinstance(reuse, Reuse) else None
        also_staged = kept.kept_objects if kept else frozenset()
        if dry_run:
            for _name, _processed, result in results:
                if isinstance(result, Exception):
                    raise result
            plan = deployment.plan(
                self.staging.root, deployed, sources, context, also_staged=also_staged
            )
            self.dry_run_report = DryRunReport(
                destination=deployment.url,
                uploads=tuple(plan.upload_names),
                upload_bytes=plan.upload_bytes,
                unchanged=plan.publish.unchanged,
                deletions=deployment.pruning.stale_names(plan.local_paths),
                full_upload_reason=plan.full_upload_reason,
            )
            self.dry_run_report.write_to(self.options)
            self.succeeded = True
            return
        sent: dict[str, int] = {}
        if early:
            self.early = EarlyUploads(
                deployment,
                self.staging.root,
                deployment.on_s3_already(deployed, context),
                deployment.start_resume(),
                _rewritable(hasher),
            )
        for original_name, processed_name, result in results:
            yield original_name, processed_name, result
            if isinstance(result, Exception):
                return
            if self.early is not None:
                self.early.offer(original_name, processed_name)
        if self.early is not None:
            sent = self.early.finish()
        sidecar = None
        if recording:
            sidecar = self._write_record(digests, recorder, kept, also_staged)
        plan = deployment.plan(
            self.staging.root,
            deployed,
            sources,
            context,
            also_staged=also_staged,
            sidecar=sidecar,
        )
        self.report = replace(
            publish_plan(deployment, self.staging.root, plan, sent), hashing=hashing
        )
        self.succeeded = True
        storage.hashed_files = dict(plan.local_paths)
        storage.manifest_hash = _manifest_hash(plan.local_manifest)
        self._keep_manifest(plan.local_manifest)
        self._summarise(self.report)

    # Incremental hashing -------------------------------------------------

    def _reuse(
        self,
        paths: Mapping[str, Any],
        digests: Mapping[str, str],
        deployed: DeployedState,
        context: Mapping[str, str],
    ) -> Reuse | str:
        """What of the deployed release an incremental pass keeps, or why
        every file is hashed."""
        if not self.storage.sync_options.incremental_hashing:
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
        hasher = self._hasher()
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

    def _hash_incrementally(
        self, paths: Mapping[str, Any], reuse: Reuse, options: Mapping[str, Any]
    ) -> tuple[Iterator[PostProcessResult], ReferenceRecorder, Any]:
        """Hash only the dirty sources, then write the whole manifest as a
        full pass would. Raises NeedsFullPass before yielding anything."""
        storage = self.storage
        staging = self.staging
        dirty = reuse.dirty
        # A persistent directory ends as a full pass leaves it: the kept
        # files' originals too (the other files are there already).
        needed = set(dirty)
        if not staging.temporary:
            needed.update(name for name in reuse.kept if name in reuse.record.objects)
        self._stage(paths, needed)
        hasher = self._hasher()
        rewritable = _rewritable(hasher)
        recorder = ReferenceRecorder(
            kept=reuse.kept,
            adjustable=lambda name: matches_patterns(name, rewritable),
            materialize=lambda name: staging.deferred.materialize(staging.root, name),
        )
        subset = {name: source for name, source in paths.items() if name in dirty}
        results: list[PostProcessResult] = []
        with recorder.installed(hasher):
            hashing = (
                storage.hash_in_staging(subset, **options)
                if hasher is storage
                else hasher.post_process(subset, dry_run=False, **options)
            )
            for result in hashing:
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
        results.extend(
            _results_as_django_yields_them(kept_paths, reuse.kept, rewritable)
        )
        return iter(results), recorder, hasher

    @staticmethod
    def _recorded(
        recorder: ReferenceRecorder,
        hasher: Any,
        results: Iterator[PostProcessResult],
        recording: bool,
    ) -> Iterator[PostProcessResult]:
        if not recording:
            yield from results
            return
        with recorder.installed(hasher):
            yield from results

    def _write_record(
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
                collection_objects(staged_names(root).union(also_staged), local_paths)
            ),
        )
        name = record_name(manifest_name)
        (root / name).write_bytes(record.encode())
        return name

    def _hasher(self) -> Any:
        """The storage that hashes: the storage class itself, or an instance
        of ``local_storage_class`` in the staging directory."""
        storage = self.storage
        if not storage.sync_options.local_storage_class_set:
            return storage
        options = dict(storage.sync_options.local_storage_options)
        # Django's check of STATIC_URL and MEDIA_URL is for local serving; the
        # files are served from S3, and the hashed names do not depend on it.
        static_url = settings.STATIC_URL
        if not static_url or static_url == settings.MEDIA_URL:
            options.setdefault("base_url", UNSERVED_BASE_URL)
        return storage.local_storage_class(location=str(self.staging.root), **options)

    def _stage(
        self,
        paths: Mapping[str, tuple[Any, str]],
        needed: Collection[str] | None = None,
    ) -> None:
        """Every found file in the staging directory (collectstatic saved
        them, unless this is a dry run or post_process was called directly);
        only the ``needed`` ones are copied, when given."""
        for name, (source_storage, path) in paths.items():
            if self.staging.exists(name):
                continue
            try:
                self.staging.stage_source(name, Path(source_storage.path(path)))
            except NotImplementedError:
                with source_storage.open(path) as source:
                    self.staging.files.save(name, source)
        if needed is None:
            self.staging.materialize_all()
            return
        for name in needed:
            self.staging.deferred.materialize(self.staging.root, name)

    def _adopt(self, deployed: DeployedState) -> None:
        """Take the deployed manifest as this run's result."""
        assert deployed.paths is not None
        assert deployed.manifest is not None
        self.storage.hashed_files = dict(deployed.paths)
        self.storage.manifest_hash = _manifest_hash(deployed.manifest)
        self._keep_manifest(deployed.manifest)

    def _keep_manifest(self, manifest: bytes) -> None:
        """Keep the manifest where run time reads it first: a persistent
        staging directory, and Django's ``manifest_storage`` if one was given."""
        if not self.staging.temporary:
            path = self.staging.root / self.storage.manifest_name
            if not path.is_file() or path.read_bytes() != manifest:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(manifest)
        given = self.storage._manifest_storage
        if given is not self.storage:
            name = self.storage.manifest_name
            if given.exists(name):
                given.delete(name)
            given.save(name, ContentFile(manifest))

    def _summarise(self, report: PublishReport) -> None:
        logger.info(report.summary())
        self.options.write(report.summary())


def _rewritable(hasher: Any) -> list[str]:
    """The globs of files hashing may rewrite (CSS, JS...)."""
    return [glob for glob, _patterns in getattr(hasher, "patterns", ())]


def _manifest_hash(manifest: bytes) -> str:
    try:
        value = json.loads(manifest).get("hash", "")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _results_as_django_yields_them(
    paths: Mapping[str, Any], deployed: Mapping[str, str], rewritable: list[str]
) -> Iterator[PostProcessResult]:
    """What Django's hashing yields for an unchanged collection, so
    collectstatic's count of post-processed files is the stock one: each file
    once, the ones hashing rewrites (CSS, JS) last."""
    adjustable = [name for name in paths if matches_patterns(name, rewritable)]
    last = set(adjustable)
    for name in [*(name for name in paths if name not in last), *adjustable]:
        yield name, deployed.get(name, name), True
