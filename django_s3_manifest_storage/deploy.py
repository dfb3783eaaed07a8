"""One deploy's conversation with S3: read what is live, plan the delta,
publish it (``waves.py``), delete what no kept release needs (``prune.py``).

What to upload is decided in ``plan.py`` and ``stamp.py`` (pure); this
module only does the requests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .command import CommandOptions
from .destination import Destination, ObjectSettings
from .errors import PublishError
from .fingerprint import content_digest
from .incremental import record_name
from .manifest import InvalidManifest, parse_manifest_paths
from .plan import (
    DeployPlan,
    StagedFileMissing,
    collection_names,
    hashed_on_s3,
    plan_publish,
)
from .prune import Pruning
from .publish import Uploader
from .remote import ListedObject, fetch_object, list_objects
from .reports import PublishReport
from .resume import ResumeRecord
from .staging import Staging
from .stamp import (
    CollectionStamp,
    DeployedState,
    reusable_paths,
    serves,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("django_s3_manifest_storage")


@dataclass(frozen=True)
class DeployPolicy:
    """What the deploy does beyond uploading the delta."""

    clear: bool = False
    """``collectstatic --clear``: delete every object of no kept release."""

    keep_releases: int | None = None
    """Keep the files of the last K releases, delete the rest. None: keep all."""

    verify_remote: bool = False
    """List the bucket and re-upload files the deployed manifest names but
    S3 lost."""

    retry_delays: tuple[float, ...] = ()
    """Pauses between rounds of retrying uploads that may heal."""

    @property
    def deletes(self) -> bool:
        return self.clear or self.keep_releases is not None

    @property
    def needs_listing(self) -> bool:
        return self.verify_remote or self.deletes


def _in_background(function: Callable[[], Any]) -> Future[Any]:
    executor = ThreadPoolExecutor(1, thread_name_prefix="s3-read")
    future = executor.submit(function)
    executor.shutdown(wait=False)
    return future


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
        self.destination = destination
        self.objects = ObjectSettings(destination)
        self.client = client
        self.uploader = uploader
        self.bucket = destination.bucket_name
        self.manifest_name = manifest_name
        self.manifest_key = destination.object_key(manifest_name)
        self.prefix = self.manifest_key[: -len(manifest_name)]
        self.pending_name = f"{manifest_name}.pending"
        self.policy = policy
        self.command = command
        self.started = time.monotonic()
        self._reuse: dict[int, tuple[dict[str, str] | None, str | None]] = {}
        self._resume: ResumeRecord | None = None
        # Read S3 while the caller works locally (copying, hashing).
        self._manifest = _in_background(
            lambda: fetch_object(self.client, self.bucket, self.manifest_key)
        )
        self._listing: Future[dict[str, ListedObject]] | None = (
            _in_background(self.list_objects) if policy.needs_listing else None
        )
        self.pruning = Pruning(
            client=client,
            bucket=self.bucket,
            prefix=self.prefix,
            manifest_name=manifest_name,
            protected={manifest_name, self.pending_name, record_name(manifest_name)},
            policy=policy,
            remote_names=self.remote_names,
            command=command,
        )

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def list_objects(self) -> dict[str, ListedObject]:
        return list_objects(self.client, self.bucket, self.prefix)

    def deployed(self) -> DeployedState:
        remote = self._manifest.result()
        if remote is None:
            return DeployedState.absent()
        deployed = DeployedState.parse(remote.body, remote.metadata)
        if deployed.problem:
            logger.warning(
                "The manifest at s3://%s/%s is unusable (%s); uploading the "
                "whole collection.",
                self.bucket,
                self.manifest_key,
                deployed.problem,
            )
        return deployed

    def remote_names(self) -> set[str] | None:
        return None if self._listing is None else set(self._listing.result())

    # Reuse of the deployed release ---------------------------------------

    def reuse(
        self, deployed: DeployedState, context: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, str | None]:
        """``(deployed paths whose files can be reused, None)``, or ``(None,
        why everything is uploaded again)``."""
        # Digesting every deployed name's parameters costs: once per state.
        cached = self._reuse.get(id(deployed))
        if cached is None:
            parameters = (
                None
                if deployed.paths is None
                else self.objects.digests(
                    deployed.collection_names(), deployed.hashed_names()
                )
            )
            cached = reusable_paths(deployed, context, parameters)
            self._reuse[id(deployed)] = cached
        return cached

    def serves(
        self, deployed: DeployedState, sources: str, context: Mapping[str, str]
    ) -> bool:
        """Whether S3 already serves what these sources would publish."""
        if deployed.paths is None or deployed.stamp.sources != sources:
            return False  # neither the parameters nor a listing are needed
        return serves(
            deployed, sources, self.reuse(deployed, context)[0], self.remote_names()
        )

    # Planning ------------------------------------------------------------

    def plan(
        self,
        staging: Staging,
        deployed: DeployedState,
        sources: str | None,
        context: Mapping[str, str],
        *,
        also_staged: Collection[str] = (),
        sidecar: str | None = None,
    ) -> DeployPlan:
        """``also_staged``: names of the collection a full pass would have
        staged and S3 holds already (files incremental hashing kept)."""
        local_manifest = staging.file(self.manifest_name).read_bytes()
        try:
            local_paths = parse_manifest_paths(local_manifest)
        except InvalidManifest as problem:
            raise PublishError(
                f"The manifest just written to {staging.file(self.manifest_name)} is "
                f"unusable ({problem}); nothing was uploaded."
            ) from problem
        hashed_names = set(local_paths.values())
        record = None
        if sidecar is not None:
            with staging.file(sidecar).open("rb") as stream:
                record = content_digest(stream)
        staged = staging.names().union(also_staged)
        stamp = CollectionStamp(
            sources,
            dict(context),
            self.objects.digests({*local_paths, *hashed_names}, hashed_names),
            record,
            len(collection_names(staged, local_paths)),
        )
        reusable, reason = self.reuse(deployed, context)
        try:
            publish = plan_publish(
                staged=staged,
                local_paths=local_paths,
                remote_paths=reusable,
                manifest_name=self.manifest_name,
                manifest_unchanged=(
                    deployed.manifest == local_manifest and deployed.stamp == stamp
                ),
                remote_names=self.remote_names(),
            )
        except StagedFileMissing as missing:
            raise PublishError(
                f"{missing} (staging directory: {staging.root})"
            ) from missing
        uploads = [name for wave in publish.waves for name in wave]
        if sidecar is not None and publish.manifest:
            uploads.append(sidecar)
        sizes = {name: staging.file(name).stat().st_size for name in uploads}
        return DeployPlan(
            publish,
            local_manifest,
            local_paths,
            stamp,
            sizes,
            reason,
            sidecar if publish.manifest else None,
        )

    def on_s3_already(
        self, deployed: DeployedState, context: Mapping[str, str]
    ) -> set[str]:
        """Hashed names S3 serves now: never worth uploading early."""
        return hashed_on_s3(self.reuse(deployed, context)[0], self.remote_names())

    # Resuming a failed run -----------------------------------------------

    @property
    def resume(self) -> ResumeRecord | None:
        """The resume record, once this run had files to upload."""
        return self._resume

    def start_resume(self) -> ResumeRecord:
        """Read a failed run's record in the background (one GET): called
        when this run has files to upload."""
        if self._resume is None:
            key = self.prefix + self.pending_name
            self._resume = ResumeRecord(
                self.client,
                self.bucket,
                key,
                _in_background(
                    lambda: ResumeRecord.fetch(self.client, self.bucket, key)
                ),
                lambda: (
                    self._listing.result() if self._listing else self.list_objects()
                ),
            )
        return self._resume

    def adopt(self, deployed: DeployedState) -> PublishReport:
        """Report a deploy where S3 already served this collection."""
        assert deployed.paths is not None
        return PublishReport(
            destination=self.url,
            uploaded=(),
            uploaded_bytes=0,
            unchanged=deployed.object_count(),
            seconds=time.monotonic() - self.started,
            deleted=self.pruning.delete_stale(deployed.paths),
            reused_deployed=True,
        )
