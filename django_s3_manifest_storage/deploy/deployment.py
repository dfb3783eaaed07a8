"""One deploy's conversation with S3: read what is live, plan the delta,
publish it in waves, delete what no kept release needs (``prune.py``).

What to upload is decided in ``planning`` (pure); this module makes the
requests. Publishing goes in waves: hashed files first, then unhashed
originals, then the manifest, each wave once the previous one is stored;
just before the manifest, its history copy (with retention) and the
release's record (incremental hashing). Objects sent while hashing went on,
and those a failed run stored, are not sent again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from typing import TYPE_CHECKING

from ..console import CommandOptions, DryRunReport, PublishReport
from ..errors import PublishError
from ..options import DeployPolicy
from ..planning.collection import StagedCollection
from ..planning.delta import DeployPlan, StagedFileMissing
from ..planning.fingerprint import content_digest
from ..planning.names import is_hashed
from ..planning.record import record_name
from ..planning.stamp import DeployedState, collection_stamp
from ..releases.history import new_history_name
from ..upload.uploader import Upload, Uploader, gzip_file, raise_for_failures
from .live import LiveState
from .objects import (
    Destination,
    ObjectSettings,
    StagedFiles,
    gzipped,
    in_place,
    renamed,
    stored_in,
    with_metadata,
)
from .prune import Pruning
from .resume import Entry, ResumeRecord
from .tally import Tally

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class Deployment:
    """One deploy of one collection to one bucket prefix."""

    def __init__(
        self,
        *,
        destination: Destination,
        client: S3Client,
        uploader: Uploader,
        manifest_name: str,
        policy: DeployPolicy,
        command: CommandOptions,
    ) -> None:
        self.objects = ObjectSettings(destination)
        self.client = client
        self.uploader = uploader
        self.manifest_name = manifest_name
        self.location = destination.s3_location()
        self.pending_name = f"{manifest_name}.pending"
        self.policy = policy
        self.command = command
        self.started = time.monotonic()
        self._resume: ResumeRecord | None = None
        self._sidecar_body = b""
        self.live = LiveState(
            client,
            self.location,
            manifest_name,
            self.objects,
            listing=policy.needs_listing,
        )
        self.pruning = Pruning(
            client=client,
            location=self.location,
            manifest_name=manifest_name,
            protected={manifest_name, self.pending_name, record_name(manifest_name)},
            policy=policy,
            remote_names=self.live.remote_names,
            command=command,
        )

    @property
    def url(self) -> str:
        return self.location.url

    # Planning ------------------------------------------------------------

    def plan(
        self,
        staging: StagedFiles,
        collection: StagedCollection,
        deployed: DeployedState,
        sources: str | None,
        context: Mapping[str, str],
        *,
        record: str | None = None,
    ) -> DeployPlan:
        """What publishing the staged ``collection`` takes; ``record``: the
        staged record of the release (incremental hashing)."""
        staged = collection.objects
        stamp = collection_stamp(
            sources,
            context,
            self.objects.digests(collection.manifest_names(), collection.hashed_names),
            record_digest(staging, record),
            staged,
            collection.paths,
            collection.hashed_names,
        )
        try:
            publish, reason = self.live.publish_plan(
                deployed,
                context,
                staged=staged,
                local_paths=collection.paths,
                hashed_names=collection.hashed_names,
                manifest_name=self.manifest_name,
                manifest_unchanged=(
                    deployed.manifest == collection.manifest and deployed.stamp == stamp
                ),
                current=lambda: None if record is None else stored_in(staging, record),
            )
        except StagedFileMissing as missing:
            raise PublishError(
                f"{missing} (staging directory: {staging.root})"
            ) from missing
        sidecar = record if publish.manifest else None
        if sidecar is not None:
            # Compressed once: the plan counts the bytes sent.
            self._sidecar_body = gzip_file(staging.file(sidecar))
        return DeployPlan(
            publish, collection, stamp, reason, sidecar, len(self._sidecar_body)
        )

    def history_copy(self, plan: DeployPlan) -> str | None:
        """The name of the manifest's copy kept for rollbacks, when releases
        are kept and the manifest is sent."""
        if plan.publish.manifest and self.policy.keep_releases is not None:
            return new_history_name(self.manifest_name, plan.local_manifest)
        return None

    def dry_run_report(self, staging: StagedFiles, plan: DeployPlan) -> DryRunReport:
        """What publishing ``plan`` would send and delete."""
        companions = plan.companions(self.history_copy(plan))
        deletions = self.pruning.stale_names(plan.local_paths)
        uploads = plan.upload_names
        return DryRunReport(
            destination=self.url,
            uploads=(*uploads, *companions),
            upload_bytes=sum(map(size_of(staging), uploads)) + sum(companions.values()),
            header_updates=plan.publish.headers,
            unchanged=plan.publish.unchanged,
            deletions=deletions.stale,
            full_upload_reason=plan.full_upload_reason,
            left_alone=deletions.left_alone,
        )

    # Resuming a failed run -----------------------------------------------

    @property
    def resume(self) -> ResumeRecord | None:
        """The resume record, once this run had files to upload."""
        return self._resume

    def start_resume(self, staging: StagedFiles) -> ResumeRecord:
        """Read a failed run's record in the background (one GET): called
        when this run has files to upload from ``staging``."""
        if self._resume is None:

            def entry_of(name: str, hashed: bool) -> Entry:
                return self.objects.resume_entry(staging, name, hashed)

            self._resume = ResumeRecord.read_in_background(
                self.client,
                self.location,
                self.pending_name,
                self.live.listing,
                entry_of,
            )
        return self._resume

    # Publishing ----------------------------------------------------------

    def adopt(self, deployed: DeployedState) -> PublishReport:
        """Report a deploy where S3 already served this collection."""
        assert deployed.paths is not None
        deletions = self.pruning.delete_stale(deployed.paths)
        return PublishReport(
            destination=self.url,
            uploaded=(),
            uploaded_bytes=0,
            unchanged=deployed.object_count(),
            seconds=time.monotonic() - self.started,
            deleted=deletions.stale,
            left_alone=deletions.left_alone,
            reused_deployed=True,
        )

    def dry_run_adopt(self, deployed: DeployedState) -> DryRunReport:
        """What a dry run reports when S3 already serves this collection."""
        assert deployed.paths is not None
        deletions = self.pruning.stale_names(deployed.paths)
        return DryRunReport(
            destination=self.url,
            uploads=(),
            upload_bytes=0,
            unchanged=deployed.object_count(),
            deletions=deletions.stale,
            left_alone=deletions.left_alone,
        )

    def publish(
        self, staging: StagedFiles, plan: DeployPlan, sent_early: Mapping[str, int]
    ) -> PublishReport:
        """Carry out the plan, wave by wave; ``sent_early`` were uploaded
        during hashing. After the manifest, what no kept release needs is
        deleted."""
        resume = self.start_resume(staging)
        hashed_names = plan.collection.hashed_names
        manifest = plan.publish.manifest
        resumed = {
            name
            for wave in plan.publish.waves
            for name in wave
            if name != manifest
            and name not in sent_early
            and resume.is_stored(name, is_hashed(name, hashed_names))
        }
        waves = [
            (
                [
                    name
                    for name in wave
                    if name not in resumed and name not in sent_early
                ],
                headers,
            )
            for wave, headers in plan.publish.stages
        ]
        history = self.history_copy(plan)
        tally = Tally(
            self.command,
            sent_early=sent_early,
            waves=waves,
            size_of=size_of(staging),
            companions=plan.companions(history),
            manifest=manifest,
            hashed_names=hashed_names,
            resume=resume,
        )
        try:
            self._send_waves(staging, plan, waves, history, tally.count)
        finally:
            tally.close()
        resume.discard()
        deletions = self.pruning.delete_stale(plan.local_paths, history)
        return PublishReport(
            destination=self.url,
            uploaded=tally.uploaded,
            uploaded_bytes=tally.uploaded_bytes,
            headers_updated=tuple(tally.updated),
            unchanged=plan.publish.unchanged + len(resumed),
            seconds=time.monotonic() - self.started,
            deleted=deletions.stale,
            left_alone=deletions.left_alone,
            resumed=len(resumed),
            full_upload_reason=plan.full_upload_reason,
        )

    def _send_waves(
        self,
        staging: StagedFiles,
        plan: DeployPlan,
        waves: list[tuple[list[str], tuple[str, ...]]],
        history: str | None,
        count: Callable[[Upload, int], None],
    ) -> None:
        hashed_names = plan.collection.hashed_names

        def upload(name: str) -> Upload:
            return self.objects.upload(staging, name, is_hashed(name, hashed_names))

        for wave, headers in waves:
            # Made as they go: a wave of 100,000 names holds only the
            # uploads in flight.
            uploads: Iterable[Upload] = chain(
                map(upload, wave), (in_place(upload(name)) for name in headers)
            )
            if wave and wave == [plan.publish.manifest]:
                uploads = self._manifest_wave(staging, plan, history, count)
            elif not wave and not headers:
                continue
            self.upload(uploads, count)

    def _manifest_wave(
        self,
        staging: StagedFiles,
        plan: DeployPlan,
        history: str | None,
        count: Callable[[Upload, int], None],
    ) -> list[Upload]:
        """Send what goes just before the manifest, one at a time (see
        ``DeployPlan.companions``); return the manifest's upload, stamped."""
        manifest = with_metadata(
            self.objects.upload(staging, self.manifest_name, hashed=False),
            plan.stamp.metadata(),
        )
        if history is not None:
            self.upload([renamed(manifest, history, self.location.key(history))], count)
        if plan.sidecar is not None:
            # Compressed: JSON of names and digests shrinks several times.
            sidecar = self.objects.upload(staging, plan.sidecar, hashed=False)
            self.upload([gzipped(sidecar, self._sidecar_body)], count)
        return [manifest]

    def upload(
        self,
        uploads: Iterable[Upload],
        on_uploaded: Callable[[Upload, int], None] = lambda upload, size: None,
    ) -> None:
        """Send ``uploads``; every failure fails the deploy, named."""
        raise_for_failures(
            self.location.bucket,
            self.uploader.upload_wave(
                uploads, on_uploaded, retry_delays=self.policy.retry_delays
            ),
        )


def size_of(staging: StagedFiles) -> Callable[[str], int]:
    """The size of a staged file, by name: asked as the bytes are counted,
    so a plan of 100,000 uploads keeps no size per name."""

    def size(name: str) -> int:
        return staging.file(name).stat().st_size

    return size


def record_digest(staging: StagedFiles, record: str | None) -> str | None:
    """The content digest of the staged record of sources, if any."""
    if record is None:
        return None
    with staging.file(record).open("rb") as stream:
        return content_digest(stream)
