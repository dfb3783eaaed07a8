"""One collectstatic run: what it is handed, what it owns, the order of its
work, and what it gives back.

A run starts when collectstatic first calls the storage and ends when
``post_process`` returns or raises (or, if collectstatic fails before
post-processing, when its command object goes away). The storage hands it a
frozen ``RunSetup`` of values; the run owns the staging directory, the
deferred copies, the early uploads and the deployed state read from S3, and
cleans them up in ``close()``. It gives back a ``RunResult``, which the
storage applies: the run never touches the storage.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from django.conf import settings

from ..console import CommandOptions, DryRunReport, Hashing, PublishReport
from ..deploy.deployment import Deployment
from ..deploy.early import EarlyUploads
from ..options import DeployPolicy
from ..planning.delta import DeployPlan
from ..planning.fingerprint import sources_fingerprint
from ..planning.stamp import DeployedState
from .hashing import (
    PostProcessResult,
    collection_context,
    results_as_django_yields_them,
    rewritable,
)
from .incremental import HashingPass, IncrementalHashing
from .run_setup import RunSetup
from .staging import Staging, digest_found_files

logger = logging.getLogger("django_s3_manifest_storage")


@dataclass(frozen=True)
class RunResult:
    """What a run leaves: the report, and the manifest now live."""

    report: PublishReport | None = None
    dry_run_report: DryRunReport | None = None
    manifest: bytes | None = None
    paths: dict[str, str] | None = None

    @property
    def manifest_hash(self) -> str:
        """The manifest's ``hash`` (Django's ``manifest_hash``)."""
        try:
            value = json.loads(self.manifest or b"").get("hash", "")
        except (ValueError, AttributeError):
            return ""
        return value if isinstance(value, str) else ""


class CollectRun:
    """One run of collectstatic against one storage."""

    def __init__(self, setup: RunSetup, options: CommandOptions, command: Any) -> None:
        self.setup = setup
        self.options = options
        self.thread = threading.get_ident()
        self._command = None if command is None else weakref.ref(command)
        # A dry run changes nothing, a staging_dir included.
        self.staging = Staging(None if options.dry_run else setup.persistent_staging)
        self.post_processing = False
        self.succeeded = False
        self.closed = False
        self.result = RunResult()
        self.early: EarlyUploads | None = None
        self._published: tuple[frozenset[str], datetime | None] | None = None
        # The deployed manifest is read while collectstatic copies files.
        self.deployment = Deployment(
            destination=setup.destination,
            client=setup.client,
            uploader=setup.uploader,
            manifest_name=setup.manifest_name,
            policy=DeployPolicy(
                clear=options.clear,
                keep_releases=setup.options.keep_releases,
                verify_remote=setup.options.verify_remote,
                retry_delays=setup.retry_delays,
            ),
            command=options,
        )
        self.incremental = IncrementalHashing(setup, self.staging, self.deployment)

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

    # What collectstatic asks before post-processing ------------------------

    def exists(self, name: str) -> bool:
        """Whether ``name`` is staged or, before post-processing, published by
        the deployed release: collectstatic then compares its time with the
        source's and skips an unmodified file, as with the stock class (a
        skipped file is staged from its source in post_process all the same)."""
        if self.staging.exists(name):
            return True
        return not self.post_processing and self._published_at(name) is not None

    def path(self, name: str) -> str:
        """A staged file's path. collectstatic asks for the root's
        (``path("")``) to tell a local storage, which it then treats as one:
        a path and a symlink check per file. The destination is S3, and the
        stock class refuses the question: refused the same way here."""
        if not name and not self.post_processing:
            raise NotImplementedError("This backend doesn't support absolute paths.")
        return self.staging.path(name)

    def get_modified_time(self, name: str) -> datetime:
        if not self.post_processing and not self.staging.exists(name):
            published = self._published_at(name)
            if published is not None:
                return published
        return self.staging.get_modified_time(name)

    def _published_at(self, name: str) -> datetime | None:
        """When the deployed release published ``name``, in the form Django's
        file system storage gives a source's time (aware in UTC with
        ``USE_TZ``, else naive local time); None when it did not."""
        if self._published is None:
            names, published = self.deployment.live.published()
            zone = timezone.utc if settings.USE_TZ else None
            self._published = (
                frozenset() if published is None else names,
                None
                if published is None
                else datetime.fromtimestamp(published.timestamp(), tz=zone),
            )
        names, when = self._published
        return when if name in names else None

    # The work ------------------------------------------------------------

    def post_process(
        self, paths: dict[str, Any], *, dry_run: bool, **options: Any
    ) -> Iterator[PostProcessResult]:
        """Adopt what S3 serves when no source changed; else hash, then
        deploy (or, in a dry run, say what a deploy would do)."""
        self.post_processing = True
        # Only the copy loop asked which names the deployed release published.
        self._published = None
        # Hashing and compression write into the staging directory too.
        self.staging.shared()
        setup = self.setup
        context = collection_context(
            setup.hashing_class, setup.options.local_storage_options
        )
        digests = dict(digest_found_files(paths))
        sources = sources_fingerprint(digests.items(), context)
        live = self.deployment.live
        deployed = live.deployed()
        if setup.options.skip_unchanged and live.serves(deployed, sources, context):
            del digests  # a digest per source: nothing reads them again
            yield from self._adopt(paths, deployed, dry_run=dry_run)
            return
        hashing = self.incremental.hash(paths, digests, deployed, context, options)

        def plan() -> DeployPlan:
            # Read once, for the record and the plan alike.
            collection = self.staging.collection(
                setup.manifest_name, hashing.also_staged, hashing.hashed_files
            )
            return self.deployment.plan(
                self.staging,
                collection,
                deployed,
                sources,
                context,
                record=self.incremental.write_record(digests, hashing, collection),
            )

        if dry_run:
            self._dry_run(hashing, plan)
        else:
            # Early uploads only in a full pass: an incremental one hashes
            # before it yields anything.
            on_s3 = (
                live.on_s3_already(deployed, context) if hashing.reuse is None else None
            )
            yield from self._deploy(hashing, plan, on_s3)

    def _adopt(
        self, paths: dict[str, Any], deployed: DeployedState, *, dry_run: bool
    ) -> Iterator[PostProcessResult]:
        """S3 serves this collection already: take its manifest as the result."""
        assert deployed.paths is not None
        assert deployed.manifest is not None
        if dry_run:
            report = self.deployment.dry_run_adopt(deployed)
            report.write_to(self.options)
            self.result = RunResult(dry_run_report=report)
        else:
            published = self.deployment.adopt(deployed)
            self._keep_manifest(deployed.manifest)
            self.result = RunResult(
                report=published,
                manifest=deployed.manifest,
                paths=dict(deployed.paths),
            )
            yield from results_as_django_yields_them(
                paths, deployed.paths, self.setup.patterns
            )
            self._summarise(published)
        self.succeeded = True

    def _dry_run(self, hashing: HashingPass, plan: Callable[[], DeployPlan]) -> None:
        for _name, _processed, result in hashing.results:
            if isinstance(result, Exception):
                raise result
        # A dry run stages in a temporary directory: writing the record
        # there changes nothing, and its size is what a deploy sends.
        report = self.deployment.dry_run_report(self.staging, plan())
        report.write_to(self.options)
        self.result = RunResult(dry_run_report=report)
        self.succeeded = True

    def _deploy(
        self,
        hashing: HashingPass,
        plan: Callable[[], DeployPlan],
        on_s3: set[str] | None,
    ) -> Iterator[PostProcessResult]:
        """Pass hashing's results on, uploading final hashed names as they
        come (``on_s3``: those S3 holds already; None: no early uploads),
        then publish the rest."""
        deployment = self.deployment
        if on_s3 is not None:
            self.early = EarlyUploads(
                deployment,
                self.staging,
                on_s3,
                deployment.start_resume(self.staging),
                rewritable(hashing.hasher),
            )
        for original_name, processed_name, result in hashing.results:
            yield original_name, processed_name, result
            if isinstance(result, Exception):
                return
            if self.early is not None:
                self.early.offer(original_name, processed_name)
        sent = self.early.finish() if self.early is not None else {}
        deploy_plan = plan()
        published = deployment.publish(self.staging, deploy_plan, sent)
        report = replace(published, hashing=self._hashing_summary(hashing, deploy_plan))
        self.succeeded = True
        self._keep_manifest(deploy_plan.local_manifest)
        self.result = RunResult(
            report=report,
            manifest=deploy_plan.local_manifest,
            paths=dict(deploy_plan.local_paths),
        )
        self._summarise(report)

    def _hashing_summary(self, hashing: HashingPass, plan: DeployPlan) -> Hashing:
        """The pass's summary; after a full pass, with the originals the
        hashing storage removed (whitenoise's keep-only-hashed mode)."""
        summary = hashing.summary
        published = plan.stamp.originals
        if summary.incremental or published is None:
            return summary
        hashed_names = plan.collection.hashed_names
        originals = sum(1 for name in plan.local_paths if name not in hashed_names)
        removed_by = (
            "WHITENOISE_KEEP_ONLY_HASHED_FILES"
            if getattr(hashing.hasher, "keep_only_hashed_files", False)
            else "removed by the hashing storage"
        )
        return replace(
            summary,
            unpublished_originals=originals - published,
            removed_by=removed_by,
        )

    def _keep_manifest(self, manifest: bytes) -> None:
        """Keep the manifest where run time reads it first: a persistent
        staging directory."""
        if not self.staging.temporary:
            path = self.staging.root / self.setup.manifest_name
            if not path.is_file() or path.read_bytes() != manifest:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(manifest)

    def _summarise(self, report: PublishReport) -> None:
        logger.info(report.summary())
        self.options.write(report.summary())
