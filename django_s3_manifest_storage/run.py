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
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from django.core.files.base import ContentFile

from .command import CommandOptions
from .deploy import Deployment, DeployPolicy
from .early import EarlyUploads
from .engines import make_uploader
from .fingerprint import digest_found_files, sources_fingerprint
from .hashing import (
    PostProcessResult,
    collection_context,
    results_as_django_yields_them,
    rewritable,
)
from .incremental import Reuse
from .incremental_run import IncrementalHashing
from .references import NeedsFullPass
from .reports import DryRunReport, Hashing, PublishReport
from .staging import Staging
from .stamp import DeployedState
from .waves import publish_plan, sent_with_the_manifest

if TYPE_CHECKING:
    from .storage import ManifestSyncS3Storage

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
        self.incremental = IncrementalHashing(storage, self.staging, self.deployment)

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
                    unchanged=deployed.object_count(),
                    deletions=deployment.pruning.stale_names(deployed.paths),
                )
                self.dry_run_report.write_to(self.options)
            else:
                self.report = deployment.adopt(deployed)
                self._adopt(deployed)
                yield from results_as_django_yields_them(
                    paths, deployed.paths, rewritable(storage)
                )
                self._summarise(self.report)
            self.succeeded = True
            return
        incremental = self.incremental
        reuse = incremental.reuse(paths, digests, deployed, context)
        hashing: Hashing
        results: Iterator[PostProcessResult]
        early = not dry_run
        if isinstance(reuse, Reuse):
            try:
                results, recorder, hasher = incremental.hash_dirty(
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
            results, recorder, hasher = incremental.hash_all(paths, options)
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
            # A dry run stages in a temporary directory: writing the record
            # there changes nothing, and its size is what a deploy sends.
            plan = deployment.plan(
                self.staging,
                deployed,
                sources,
                context,
                also_staged=also_staged,
                sidecar=incremental.write_record(digests, recorder, kept, also_staged)
                if incremental.recording
                else None,
            )
            companions = sent_with_the_manifest(deployment, plan)
            self.dry_run_report = DryRunReport(
                destination=deployment.url,
                uploads=(*plan.upload_names, *companions),
                upload_bytes=plan.upload_bytes + sum(companions.values()),
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
                self.staging,
                deployment.on_s3_already(deployed, context),
                deployment.start_resume(),
                rewritable(hasher),
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
        if incremental.recording:
            sidecar = incremental.write_record(digests, recorder, kept, also_staged)
        plan = deployment.plan(
            self.staging,
            deployed,
            sources,
            context,
            also_staged=also_staged,
            sidecar=sidecar,
        )
        self.report = replace(
            publish_plan(deployment, self.staging, plan, sent), hashing=hashing
        )
        self.succeeded = True
        storage.hashed_files = dict(plan.local_paths)
        storage.manifest_hash = _manifest_hash(plan.local_manifest)
        self._keep_manifest(plan.local_manifest)
        self._summarise(self.report)

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


def _manifest_hash(manifest: bytes) -> str:
    try:
        value = json.loads(manifest).get("hash", "")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""
