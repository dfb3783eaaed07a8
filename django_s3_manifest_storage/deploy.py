"""One deploy's conversation with S3: read what is live, upload the delta,
publish the manifest, delete what no kept release needs.

What to upload is decided in ``plan.py`` and ``release.py`` (pure); this
module only does the requests.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .command import CommandOptions
from .errors import PublishError
from .fingerprint import content_digest, parameters_digests
from .incremental import record_name
from .manifest import InvalidManifest, parse_manifest_paths
from .plan import (
    PublishPlan,
    StagedFileMissing,
    history_name,
    is_hashed,
    plan_publish,
)
from .progress import upload_progress
from .prune import Pruning
from .publish import Upload, Uploader, raise_for_failures
from .remote import ListedObject, fetch_object, list_objects
from .reports import PublishReport
from .resume import Entry, ResumeRecord, file_md5
from .resume import parameters_digest as resume_digest
from .stamp import CollectionStamp, DeployedState, full_upload_reason

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("django_s3_manifest_storage")


class Destination(Protocol):
    """What deploying needs from the storage: where and how objects go."""

    bucket_name: str

    def object_key(self, name: str) -> str: ...

    def upload_parameters(self, key: str, *, hashed: bool) -> dict[str, Any]: ...

    def should_gzip(self, parameters: dict[str, Any]) -> bool: ...


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

    # Parameters ----------------------------------------------------------

    def upload_parameters(self, name: str, hashed: bool) -> dict[str, Any]:
        """What an object is stored with, ``gzip`` included (it changes the
        stored bytes and Content-Encoding)."""
        parameters = self.destination.upload_parameters(
            self.destination.object_key(name), hashed=hashed
        )
        return {**parameters, "gzip": self.destination.should_gzip(parameters)}

    def parameters_digests(
        self, names: Collection[str], hashed_names: Collection[str]
    ) -> dict[str, str]:
        return parameters_digests(
            (name, self.upload_parameters(name, is_hashed(name, hashed_names)))
            for name in names
        )

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
                else self.parameters_digests(
                    deployed.collection_names(), deployed.hashed_names()
                )
            )
            reason = full_upload_reason(deployed, context, parameters)
            cached = (None if reason else deployed.paths, reason)
            self._reuse[id(deployed)] = cached
        return cached

    def serves(
        self, deployed: DeployedState, sources: str, context: Mapping[str, str]
    ) -> bool:
        """Whether S3 already serves what these sources would publish."""
        if deployed.paths is None or deployed.stamp.sources != sources:
            return False
        if self.reuse(deployed, context)[0] is None:
            return False
        present = self.remote_names()
        return present is None or deployed.collection_names() <= present

    # Planning ------------------------------------------------------------

    def plan(
        self,
        staging: Path,
        deployed: DeployedState,
        sources: str | None,
        context: Mapping[str, str],
        *,
        also_staged: Collection[str] = (),
        sidecar: str | None = None,
    ) -> DeployPlan:
        """``also_staged``: names of the collection a full pass would have
        staged and S3 holds already (files incremental hashing kept)."""
        local_manifest = (staging / self.manifest_name).read_bytes()
        try:
            local_paths = parse_manifest_paths(local_manifest)
        except InvalidManifest as problem:
            raise PublishError(
                f"The manifest just written to {staging / self.manifest_name} is "
                f"unusable ({problem}); nothing was uploaded."
            ) from problem
        hashed_names = set(local_paths.values())
        record = None
        if sidecar is not None:
            with (staging / sidecar).open("rb") as stream:
                record = content_digest(stream)
        stamp = CollectionStamp(
            sources,
            dict(context),
            self.parameters_digests({*local_paths, *hashed_names}, hashed_names),
            record,
        )
        reusable, reason = self.reuse(deployed, context)
        try:
            publish = plan_publish(
                staged=staged_names(staging).union(also_staged),
                local_paths=local_paths,
                remote_paths=reusable,
                manifest_name=self.manifest_name,
                manifest_unchanged=(
                    deployed.manifest == local_manifest and deployed.stamp == stamp
                ),
                remote_names=self.remote_names(),
            )
        except StagedFileMissing as missing:
            raise PublishError(f"{missing} (staging directory: {staging})") from missing
        uploads = [name for wave in publish.waves for name in wave]
        if sidecar is not None and publish.manifest:
            uploads.append(sidecar)
        sizes = {name: (staging / name).stat().st_size for name in uploads}
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
        present = self.remote_names()
        reusable = self.reuse(deployed, context)[0] or {}
        return {
            name for name in reusable.values() if present is None or name in present
        }

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

    def resume_entry(self, staging: Path, name: str, hashed: bool) -> Entry:
        """How ``name`` would be stored: its parameters, and the MD5 of an
        unhashed name's bytes (a hashed name is content-addressed)."""
        parameters = resume_digest(self.upload_parameters(name, hashed))
        return parameters, "" if hashed else file_md5(staging / name)

    # Doing ---------------------------------------------------------------

    def publish(
        self,
        staging: Path,
        plan: DeployPlan,
        sent_early: Mapping[str, int],
    ) -> PublishReport:
        """Carry out the plan; ``sent_early`` were uploaded during hashing."""
        resume = self.start_resume()
        hashed_names = set(plan.local_paths.values())
        entries = {
            name: self.resume_entry(staging, name, is_hashed(name, hashed_names))
            for name in plan.upload_names
            if name != plan.publish.manifest and name not in sent_early
        }
        resumed = {
            name for name, entry in entries.items() if resume.is_stored(name, entry)
        }
        waves = [
            [name for name in wave if name not in sent_early and name not in resumed]
            for wave in plan.publish.waves
        ]
        history = None
        if plan.publish.manifest and self.policy.keep_releases is not None:
            history = self._history_name(plan.local_manifest)
        uploaded = dict(sent_early)
        # The progress counts every object this run sends: those sent while
        # hashing went on are done already; a history copy and the record of
        # sources (incremental hashing) are one more each.
        manifest = plan.publish.manifest
        history_size = plan.sizes[manifest] if history and manifest else 0
        sidecar_size = plan.sizes[plan.sidecar] if plan.sidecar else 0
        progress = upload_progress(
            self.command,
            len(sent_early)
            + sum(len(wave) for wave in waves)
            + bool(history)
            + bool(plan.sidecar),
            sum(sent_early.values())
            + sum(plan.sizes[name] for wave in waves for name in wave)
            + history_size
            + sidecar_size,
        )
        for size in sent_early.values():
            progress.advance(size)

        def count(upload: Upload, size: int) -> None:
            uploaded[upload.name] = size
            if upload.name in entries:
                resume.note_stored(upload.name, entries[upload.name])
            progress.advance(size)

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
                        self._upload([copy])
                        # An object S3 received: the summary counts it too.
                        uploaded[history] = history_size
                        progress.advance(history_size)
                    if plan.sidecar is not None:
                        sidecar = self.upload_for(staging, plan.sidecar, hashed=False)
                        self._upload([sidecar])
                        uploaded[plan.sidecar] = plan.sizes[plan.sidecar]
                        progress.advance(plan.sizes[plan.sidecar])
                self._upload(uploads, count)
        finally:
            progress.close()
        resume.discard()
        deleted = self.pruning.delete_stale(plan.local_paths, history)
        return PublishReport(
            destination=self.url,
            uploaded=tuple(uploaded),
            uploaded_bytes=sum(uploaded.values()),
            unchanged=plan.publish.unchanged + len(resumed),
            seconds=time.monotonic() - self.started,
            deleted=deleted,
            resumed=len(resumed),
            full_upload_reason=plan.full_upload_reason,
        )

    def _upload(
        self,
        uploads: Sequence[Upload],
        on_uploaded: Callable[[Upload, int], None] = lambda upload, size: None,
    ) -> None:
        raise_for_failures(
            self.bucket,
            self.uploader.upload_wave(
                uploads, on_uploaded, retry_delays=self.policy.retry_delays
            ),
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
            deleted=self.pruning.delete_stale(deployed.paths),
            reused_deployed=True,
        )

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
