"""What the storage hands a run: values, never the storage itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from ..deploy.objects import Destination
    from ..options import SyncOptions
    from ..upload.uploader import Uploader


@dataclass(frozen=True)
class RunSetup:
    """What the storage hands a run: values, never itself."""

    manifest_name: str
    options: SyncOptions
    persistent_staging: Path | None
    """A staging directory that outlives the run, or None for a temporary one."""
    hashing_class: type
    hasher: Callable[[Path], Any]
    """The storage that hashes, working in a staging directory."""
    hash_files: Callable[[Any, dict[str, Any], Mapping[str, Any]], Iterator[Any]]
    """Django's hashing of some paths by a hasher: ``post_process``'s results."""
    hashes_itself: bool
    """Whether the storage class hashes (through the run's staging)."""
    patterns: list[str]
    """The globs of files the storage's hashing rewrites (CSS, JS...)."""
    destination: Destination
    client: S3Client
    uploader: Uploader
    retry_delays: tuple[float, ...]
