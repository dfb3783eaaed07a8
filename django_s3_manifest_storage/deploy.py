"""One publish: compare the staged collection with S3 and upload the delta."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import PublishError
from .manifest import InvalidManifest, parse_manifest_paths
from .plan import PublishPlan, StagedFileMissing, plan_publish
from .publish import Upload, Uploader, raise_for_failures

logger = logging.getLogger("django_s3_manifest_storage")


class Destination(Protocol):
    """What publishing needs from the storage: where and how objects go."""

    bucket_name: str

    def object_key(self, name: str) -> str: ...

    def upload_parameters(self, key: str) -> dict[str, Any]: ...

    def should_gzip(self, parameters: dict[str, Any]) -> bool: ...


@dataclass(frozen=True)
class PublishReport:
    destination: str
    uploaded: tuple[str, ...]
    uploaded_bytes: int
    unchanged: int
    seconds: float

    def summary(self) -> str:
        return (
            f"Published to {self.destination}: {len(self.uploaded)} file(s) "
            f"uploaded ({self.uploaded_bytes:,} bytes), {self.unchanged} unchanged, "
            f"in {self.seconds:.1f}s."
        )


def staged_names(root: Path) -> set[str]:
    """Names (relative, with ``/``) of every file under the staging directory."""
    names: set[str] = set()
    for directory, _subdirectories, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        names.update(prefix + file_name for file_name in files)
    return names


def deployed_paths(
    remote_manifest: bytes | None, location: str
) -> dict[str, str] | None:
    """The deployed manifest's paths; None (a first deploy) if absent or invalid."""
    if remote_manifest is None:
        return None
    try:
        return parse_manifest_paths(remote_manifest)
    except InvalidManifest as problem:
        logger.warning(
            "The manifest at %s is unusable (%s); uploading the whole collection.",
            location,
            problem,
        )
        return None


def plan_for_staging(
    staging: Path, manifest_name: str, remote_manifest: bytes | None, location: str
) -> PublishPlan:
    local_manifest = (staging / manifest_name).read_bytes()
    try:
        local_paths = parse_manifest_paths(local_manifest)
    except InvalidManifest as problem:
        raise PublishError(
            f"The manifest just written to {staging / manifest_name} is unusable "
            f"({problem}); nothing was uploaded."
        ) from problem
    try:
        return plan_publish(
            staged=staged_names(staging),
            local_paths=local_paths,
            remote_paths=deployed_paths(remote_manifest, location),
            manifest_name=manifest_name,
            manifest_unchanged=remote_manifest == local_manifest,
        )
    except StagedFileMissing as missing:
        raise PublishError(f"{missing} (staging directory: {staging})") from missing


def publish_collection(
    *,
    staging: Path,
    manifest_name: str,
    remote_manifest: bytes | None,
    destination: Destination,
    uploader: Uploader,
) -> PublishReport:
    started = time.monotonic()
    manifest_key = destination.object_key(manifest_name)
    location = f"s3://{destination.bucket_name}/{manifest_key}"
    plan = plan_for_staging(staging, manifest_name, remote_manifest, location)
    uploaded_bytes = 0

    def count_bytes(upload: Upload, size: int) -> None:
        nonlocal uploaded_bytes
        uploaded_bytes += size

    for wave in plan.waves:
        uploads = [_upload_for(staging, name, destination) for name in wave]
        raise_for_failures(
            destination.bucket_name, uploader.upload_wave(uploads, count_bytes)
        )
    prefix = manifest_key[: -len(manifest_name)].rstrip("/")
    return PublishReport(
        destination=f"s3://{destination.bucket_name}/{prefix}",
        uploaded=tuple(name for wave in plan.waves for name in wave),
        uploaded_bytes=uploaded_bytes,
        unchanged=plan.unchanged,
        seconds=time.monotonic() - started,
    )


def _upload_for(staging: Path, name: str, destination: Destination) -> Upload:
    key = destination.object_key(name)
    parameters = destination.upload_parameters(key)
    gzip = destination.should_gzip(parameters)
    if gzip:
        parameters = {**parameters, "ContentEncoding": "gzip"}
    return Upload(
        name=name, path=staging / name, key=key, parameters=parameters, gzip=gzip
    )
