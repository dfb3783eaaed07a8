"""One deploy: read what S3 serves, upload the delta, then clean up.

The storage decides *when* (in ``post_process``); this module decides *what*,
with the pure planning in ``plan.py`` and the uploads in ``publish.py``.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .command import CommandOptions
from .errors import PublishError
from .manifest import InvalidManifest, parse_manifest_paths
from .plan import (
    PublishPlan,
    StagedFileMissing,
    history_name,
    is_hashed,
    newest_history,
    plan_deletions,
    plan_publish,
)
from .progress import upload_progress
from .publish import BackgroundUploads, Upload, Uploader, raise_for_failures
from .remote import RemoteObject, delete_keys, fetch_object, list_names

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("django_s3_manifest_storage")

# User metadata stored on the manifest object (x-amz-meta-*).
SOURCES_METADATA_KEY = "collection-sources"
CONTEXT_METADATA_KEY = "collection-context"
PARAMETERS_METADATA_KEY = "collection-parameters"


class Destination(Protocol):
    """What deploying needs from the storage: where and how objects go."""

    bucket_name: str

    def object_key(self, name: str) -> str: ...

    def upload_parameters(self, key: str, *, hashed: bool) -> dict[str, Any]: ...

    def should_gzip(self, parameters: dict[str, Any]) -> bool: ...

    def parameters_digest(
        self, names: Collection[str], hashed_names: Collection[str]
    ) -> str: ...


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

    @property
    def deletes(self) -> bool:
        return self.clear or self.keep_releases is not None

    @property
    def needs_listing(self) -> bool:
        return self.verify_remote or self.deletes


@dataclass(frozen=True)
class CollectionStamp:
    """What is recorded with a published manifest about how it was made."""

    sources: str | None
    """Digest of every source file and of the context."""

    context: str | None
    """Digest of the context alone: storage class, settings, versions."""

    parameters: str | None
    """Digest of the upload parameters of every name in the collection."""

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> CollectionStamp:
        return cls(
            metadata.get(SOURCES_METADATA_KEY),
            metadata.get(CONTEXT_METADATA_KEY),
            metadata.get(PARAMETERS_METADATA_KEY),
        )

    def metadata(self) -> dict[str, str]:
        values = {
            SOURCES_METADATA_KEY: self.sources,
            CONTEXT_METADATA_KEY: self.context,
            PARAMETERS_METADATA_KEY: self.parameters,
        }
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True)
class DeployedState:
    """The manifest live on S3, if any, and its stamp."""

    manifest: bytes | None
    paths: dict[str, str] | None
    stamp: CollectionStamp

    @classmethod
    def from_remote(cls, remote: RemoteObject | None, location: str) -> DeployedState:
        if remote is None:
            return cls(None, None, CollectionStamp(None, None, None))
        try:
            paths: dict[str, str] | None = parse_manifest_paths(remote.body)
        except InvalidManifest as problem:
            logger.warning(
                "The manifest at %s is unusable (%s); uploading the whole collection.",
                location,
                problem,
            )
            paths = None
        return cls(remote.body, paths, CollectionStamp.from_metadata(remote.metadata))

    def collection_names(self) -> set[str]:
        paths = self.paths or {}
        return {*paths, *paths.values()}

    def hashed_names(self) -> set[str]:
        return set((self.paths or {}).values())


@dataclass(frozen=True)
class PublishReport:
    destination: str
    uploaded: tuple[str, ...]
    uploaded_bytes: int
    unchanged: int
    seconds: float
    deleted: tuple[str, ...] = ()
    reused_deployed: bool = False

    def summary(self) -> str:
        how = " (no source changed: hashing skipped)" if self.reused_deployed else ""
        deleted = f", {len(self.deleted)} deleted" if self.deleted else ""
        return (
            f"Published to {self.destination}: {len(self.uploaded)} file(s) "
            f"uploaded ({self.uploaded_bytes:,} bytes), {self.unchanged} "
            f"unchanged{deleted}, in {self.seconds:.1f}s{how}."
        )


@dataclass(frozen=True)
class DeployPlan:
    """Everything a deploy would do: the dry run prints it, a deploy runs it."""

    publish: PublishPlan
    local_manifest: bytes
    local_paths: dict[str, str]
    stamp: CollectionStamp
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def upload_bytes(self) -> int:
        return sum(self.sizes[name] for wave in self.publish.waves for name in wave)


def staged_names(root: Path) -> set[str]:
    """Names (relative, with ``/``) of every file under the staging directory."""
    names: set[str] = set()
    for directory, _subdirectories, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        names.update(prefix + file_name for file_name in files)
    return names


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
        self.client = client
        self.uploader = uploader
        self.bucket = destination.bucket_name
        self.manifest_name = manifest_name
        self.manifest_key = destination.object_key(manifest_name)
        self.prefix = self.manifest_key[: -len(manifest_name)]
        self.policy = policy
        self.command = command
        self.started = time.monotonic()
        self._reusable: tuple[DeployedState, str, dict[str, str] | None] | None = None
        # Read S3 while the caller works locally (fingerprinting, hashing).
        self._manifest = _in_background(
            lambda: fetch_object(self.client, self.bucket, self.manifest_key)
        )
        self._listing: Future[set[str]] | None = (
            _in_background(lambda: list_names(self.client, self.bucket, self.prefix))
            if policy.needs_listing
            else None
        )

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def deployed(self) -> DeployedState:
        return DeployedState.from_remote(
            self._manifest.result(), f"s3://{self.bucket}/{self.manifest_key}"
        )

    def remote_names(self) -> set[str] | None:
        return None if self._listing is None else self._listing.result()

    # Unchanged sources ---------------------------------------------------

    def serves(self, deployed: DeployedState, sources: str) -> bool:
        """Whether S3 already serves what these sources would publish."""
        if deployed.paths is None or deployed.stamp.sources != sources:
            return False
        if deployed.stamp.parameters != self.destination.parameters_digest(
            deployed.collection_names(), deployed.hashed_names()
        ):
            return False
        present = self.remote_names()
        return present is None or deployed.collection_names() <= present

    # Planning ------------------------------------------------------------

    def plan(
        self, staging: Path, deployed: DeployedState, sources: str | None, context: str
    ) -> DeployPlan:
        local_manifest = (staging / self.manifest_name).read_bytes()
        try:
            local_paths = parse_manifest_paths(local_manifest)
        except InvalidManifest as problem:
            raise PublishError(
                f"The manifest just written to {staging / self.manifest_name} is "
                f"unusable ({problem}); nothing was uploaded."
            ) from problem
        hashed_names = set(local_paths.values())
        stamp = CollectionStamp(
            sources,
            context,
            self.destination.parameters_digest(
                {*local_paths, *hashed_names}, hashed_names
            ),
        )
        staged = staged_names(staging)
        try:
            publish = plan_publish(
                staged=staged,
                local_paths=local_paths,
                remote_paths=self.reusable_paths(deployed, context),
                manifest_name=self.manifest_name,
                manifest_unchanged=(
                    deployed.manifest == local_manifest and deployed.stamp == stamp
                ),
                remote_names=self.remote_names(),
            )
        except StagedFileMissing as missing:
            raise PublishError(f"{missing} (staging directory: {staging})") from missing
        sizes = {
            name: (staging / name).stat().st_size
            for wave in publish.waves
            for name in wave
        }
        return DeployPlan(publish, local_manifest, local_paths, stamp, sizes)

    def reusable_paths(
        self, deployed: DeployedState, context: str
    ) -> dict[str, str] | None:
        """The deployed manifest's paths, if its files can be reused as they
        are; None when everything must be uploaded again."""
        # Computing it digests every deployed name's parameters: once is enough.
        cached = self._reusable
        if cached is None or cached[0] is not deployed or cached[1] != context:
            cached = (deployed, context, self._reusable_paths(deployed, context))
            self._reusable = cached
        return cached[2]

    def _reusable_paths(
        self, deployed: DeployedState, context: str
    ) -> dict[str, str] | None:
        # Another local storage class, version or setting may write files the
        # manifest does not list (compressed variants): upload everything.
        if deployed.stamp.context not in (None, context):
            return None
        # New upload parameters must reach every object, changed or not. The
        # deployed names' parameters under today's rules tell if they changed.
        if deployed.stamp.parameters not in (
            None,
            self.destination.parameters_digest(
                deployed.collection_names(), deployed.hashed_names()
            ),
        ):
            return None
        return deployed.paths

    def early_uploads(
        self, staging: Path, deployed: DeployedState, context: str
    ) -> EarlyUploads:
        present = self.remote_names()
        reusable = self.reusable_paths(deployed, context) or {}
        on_s3 = {
            name for name in reusable.values() if present is None or name in present
        }
        return EarlyUploads(self, staging, on_s3)

    def stale_names(
        self, live_paths: Mapping[str, str], *, publishing_history: str | None = None
    ) -> tuple[str, ...]:
        """Names to delete once ``live_paths`` is the live manifest."""
        present = self.remote_names()
        if not self.policy.deletes or present is None:
            return ()
        if publishing_history is not None:
            present = present | {publishing_history}
        protected = {self.manifest_name}
        kept_releases: list[Mapping[str, str]] = [live_paths]
        if self.policy.keep_releases is not None and not self.policy.clear:
            kept = newest_history(
                present, self.manifest_name, self.policy.keep_releases
            )
            if len(kept) < self.policy.keep_releases:
                # Releases published before their copies were kept are unknown:
                # their files may still be in use, so prune nothing yet.
                return ()
            protected.update(kept)
            for name in kept:
                if name == publishing_history:
                    continue
                paths = self._release_paths(name)
                if paths is None:
                    # A kept release we cannot read: its files are unknown.
                    logger.warning("Cannot read %s%s; nothing pruned.", self.url, name)
                    return ()
                kept_releases.append(paths)
        return plan_deletions(
            present=present, kept_releases=kept_releases, protected=protected
        )

    def _release_paths(self, history: str) -> Mapping[str, str] | None:
        copy = fetch_object(self.client, self.bucket, self.prefix + history)
        if copy is None:
            return None
        try:
            return parse_manifest_paths(copy.body)
        except InvalidManifest:
            return None

    # Doing ---------------------------------------------------------------

    def publish(
        self,
        staging: Path,
        plan: DeployPlan,
        already_sent: Mapping[str, int] | None = None,
    ) -> PublishReport:
        """Carry out the plan; ``already_sent`` were uploaded during hashing."""
        sent_early = dict(already_sent or {})
        waves = [
            [name for name in wave if name not in sent_early]
            for wave in plan.publish.waves
        ]
        history = None
        if plan.publish.manifest and self.policy.keep_releases is not None:
            history = self._history_name(plan.local_manifest)
        total = sum(len(wave) for wave in waves)
        progress = upload_progress(
            self.command,
            total,
            sum(plan.sizes[name] for wave in waves for name in wave),
        )
        uploaded_bytes = sum(sent_early.values())

        def uploaded(upload: Upload, size: int) -> None:
            nonlocal uploaded_bytes
            uploaded_bytes += size
            progress.advance(size)

        hashed_names = set(plan.local_paths.values())
        try:
            for wave in waves:
                if not wave:
                    continue
                uploads = [
                    self.upload_for(staging, name, is_hashed(name, hashed_names))
                    for name in wave
                ]
                if wave == [plan.publish.manifest]:
                    uploads = [_with_metadata(uploads[0], plan.stamp.metadata())]
                    if history is not None:
                        # The copy goes first: pruning keeps only the releases
                        # it has copies of, so the live one must have one.
                        copy = _renamed(uploads[0], history, self.prefix)
                        raise_for_failures(
                            self.bucket, self.uploader.upload_wave([copy])
                        )
                raise_for_failures(
                    self.bucket, self.uploader.upload_wave(uploads, uploaded)
                )
        finally:
            progress.close()
        deleted = self.delete_stale(plan.local_paths, history)
        return PublishReport(
            destination=self.url,
            uploaded=(*sent_early, *(name for wave in waves for name in wave)),
            uploaded_bytes=uploaded_bytes,
            unchanged=plan.publish.unchanged,
            seconds=time.monotonic() - self.started,
            deleted=deleted,
        )

    def adopt(self, deployed: DeployedState) -> PublishReport:
        """Report a deploy where S3 already served this collection."""
        assert deployed.paths is not None
        return PublishReport(
            destination=self.url,
            uploaded=(),
            uploaded_bytes=0,
            unchanged=len(deployed.collection_names()),
            seconds=time.monotonic() - self.started,
            deleted=self.delete_stale(deployed.paths),
            reused_deployed=True,
        )

    def delete_stale(
        self, live_paths: Mapping[str, str], history: str | None = None
    ) -> tuple[str, ...]:
        """Delete what no kept release references; the live one is never touched."""
        stale = self.stale_names(live_paths, publishing_history=history)
        if not stale:
            return ()
        failures = delete_keys(
            self.client, self.bucket, [self.prefix + name for name in stale]
        )
        if failures:
            # The new release is live and complete: a failed delete leaves a
            # stale object behind, nothing broken. Say so, don't fail the deploy.
            message = (
                f"{len(failures)} stale object(s) in {self.url} could not be "
                "deleted; the next deploy will try again: " + "; ".join(failures[:5])
            )
            logger.warning(message)
            self.command.write(f"Warning: {message}", level=0)
        failed_keys = {failure.split(":", 1)[0] for failure in failures}
        return tuple(name for name in stale if self.prefix + name not in failed_keys)

    def _history_name(self, manifest: bytes) -> str:
        now = datetime.datetime.now(datetime.timezone.utc)
        digest = hashlib.sha256(manifest).hexdigest()
        return history_name(
            self.manifest_name, now.strftime("%Y%m%dT%H%M%S%fZ"), digest
        )

    def upload_for(self, staging: Path, name: str, hashed: bool) -> Upload:
        key = self.destination.object_key(name)
        parameters = self.destination.upload_parameters(key, hashed=hashed)
        gzip = self.destination.should_gzip(parameters)
        if gzip:
            parameters = {**parameters, "ContentEncoding": "gzip"}
        return Upload(
            name=name, path=staging / name, key=key, parameters=parameters, gzip=gzip
        )


def _with_metadata(upload: Upload, metadata: dict[str, str]) -> Upload:
    parameters = dict(upload.parameters)
    parameters["Metadata"] = {**parameters.get("Metadata", {}), **metadata}
    return Upload(upload.name, upload.path, upload.key, parameters, upload.gzip)


def _renamed(upload: Upload, name: str, prefix: str) -> Upload:
    return Upload(name, upload.path, prefix + name, upload.parameters, upload.gzip)


class EarlyUploads:
    """Hashed files uploaded as soon as Django yields their final name.

    Files matching none of the local storage's ``patterns`` (images, fonts...)
    are hashed once and never rewritten, so their hashed name is final when
    first yielded; CSS and JS may be rewritten in later passes and wait.
    """

    def __init__(
        self, deployment: Deployment, staging: Path, on_s3: Collection[str]
    ) -> None:
        self.deployment = deployment
        self.staging = staging
        self.on_s3 = on_s3
        self.uploads = BackgroundUploads(deployment.uploader)

    def offer(self, hashed_name: str) -> None:
        if hashed_name not in self.on_s3:
            self.uploads.submit(
                self.deployment.upload_for(self.staging, hashed_name, hashed=True)
            )

    def finish(self, final_hashed_names: Collection[str]) -> dict[str, int]:
        """Wait for the uploads; raise if any failed. Return the ones that
        count: names the final manifest uses."""
        sent, failures = self.uploads.finish()
        raise_for_failures(self.deployment.bucket, failures)
        return {name: size for name, size in sent.items() if name in final_hashed_names}

    def cancel(self) -> None:
        self.uploads.cancel()
