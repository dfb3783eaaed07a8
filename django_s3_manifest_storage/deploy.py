"""One publish: compare the staged collection with S3 and upload the delta."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import PublishError
from .manifest import InvalidManifest, parse_manifest_paths
from .plan import PublishPlan, StagedFileMissing, is_hashed, plan_publish
from .publish import Upload, Uploader, raise_for_failures
from .remote import RemoteObject

logger = logging.getLogger("django_s3_manifest_storage")

# User metadata stored on the manifest object (x-amz-meta-*).
SOURCES_METADATA_KEY = "collection-sources"
CONTEXT_METADATA_KEY = "collection-context"
PARAMETERS_METADATA_KEY = "collection-parameters"


class Destination(Protocol):
    """What publishing needs from the storage: where and how objects go."""

    bucket_name: str

    def object_key(self, name: str) -> str: ...

    def upload_parameters(self, key: str, *, hashed: bool) -> dict[str, Any]: ...

    def should_gzip(self, parameters: dict[str, Any]) -> bool: ...

    def parameters_digest(
        self, names: Collection[str], hashed_names: Collection[str]
    ) -> str: ...


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
    reused_deployed: bool = False

    def summary(self) -> str:
        how = " (no source changed: hashing skipped)" if self.reused_deployed else ""
        return (
            f"Published to {self.destination}: {len(self.uploaded)} file(s) "
            f"uploaded ({self.uploaded_bytes:,} bytes), {self.unchanged} unchanged, "
            f"in {self.seconds:.1f}s{how}."
        )


def staged_names(root: Path) -> set[str]:
    """Names (relative, with ``/``) of every file under the staging directory."""
    names: set[str] = set()
    for directory, _subdirectories, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        names.update(prefix + file_name for file_name in files)
    return names


def destination_url(destination: Destination) -> str:
    prefix = destination.object_key("x")[:-1].rstrip("/")
    return f"s3://{destination.bucket_name}/{prefix}".rstrip("/")


def publish_collection(
    *,
    staging: Path,
    manifest_name: str,
    deployed: DeployedState,
    sources_fingerprint: str | None,
    context: str | None,
    destination: Destination,
    uploader: Uploader,
) -> PublishReport:
    started = time.monotonic()
    local_manifest = (staging / manifest_name).read_bytes()
    try:
        local_paths = parse_manifest_paths(local_manifest)
    except InvalidManifest as problem:
        raise PublishError(
            f"The manifest just written to {staging / manifest_name} is unusable "
            f"({problem}); nothing was uploaded."
        ) from problem
    stamp = CollectionStamp(
        sources_fingerprint,
        context,
        destination.parameters_digest(
            {*local_paths, *local_paths.values()}, set(local_paths.values())
        ),
    )
    # New upload parameters must reach every object, changed or not. The
    # deployed names' parameters under today's rules tell if the rules changed.
    parameters_changed = deployed.stamp.parameters not in (
        None,
        destination.parameters_digest(
            deployed.collection_names(), deployed.hashed_names()
        ),
    )
    # Another local storage class, version or setting may write files the
    # manifest does not list (compressed variants): upload everything.
    context_changed = deployed.stamp.context not in (None, context)
    try:
        plan: PublishPlan = plan_publish(
            staged=staged_names(staging),
            local_paths=local_paths,
            remote_paths=(
                None if parameters_changed or context_changed else deployed.paths
            ),
            manifest_name=manifest_name,
            manifest_unchanged=(
                deployed.manifest == local_manifest and deployed.stamp == stamp
            ),
        )
    except StagedFileMissing as missing:
        raise PublishError(f"{missing} (staging directory: {staging})") from missing

    uploaded_bytes = 0

    def count_bytes(upload: Upload, size: int) -> None:
        nonlocal uploaded_bytes
        uploaded_bytes += size

    hashed_names = set(local_paths.values())
    for wave in plan.waves:
        uploads = [
            _upload_for(staging, name, destination, is_hashed(name, hashed_names))
            for name in wave
        ]
        if wave == (plan.manifest,):
            uploads = [_with_metadata(upload, stamp.metadata()) for upload in uploads]
        raise_for_failures(
            destination.bucket_name, uploader.upload_wave(uploads, count_bytes)
        )
    return PublishReport(
        destination=destination_url(destination),
        uploaded=tuple(name for wave in plan.waves for name in wave),
        uploaded_bytes=uploaded_bytes,
        unchanged=plan.unchanged,
        seconds=time.monotonic() - started,
    )


def _upload_for(
    staging: Path, name: str, destination: Destination, hashed: bool
) -> Upload:
    key = destination.object_key(name)
    parameters = destination.upload_parameters(key, hashed=hashed)
    gzip = destination.should_gzip(parameters)
    if gzip:
        parameters = {**parameters, "ContentEncoding": "gzip"}
    return Upload(
        name=name, path=staging / name, key=key, parameters=parameters, gzip=gzip
    )


def _with_metadata(upload: Upload, metadata: dict[str, str]) -> Upload:
    parameters = dict(upload.parameters)
    parameters["Metadata"] = {**parameters.get("Metadata", {}), **metadata}
    return Upload(upload.name, upload.path, upload.key, parameters, upload.gzip)
