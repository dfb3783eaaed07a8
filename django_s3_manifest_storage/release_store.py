"""The releases kept on S3, read with one listing and a GET per manifest.

Choosing a release and checking it is ``releases.py``; making one live is
``rollback.py``. This module only reads S3, through the storage's client (its
retries and settings).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.conf import STATICFILES_STORAGE_ALIAS
from django.core.files.storage import storages
from django.core.management.base import CommandError

from .configuration import bucket_problem
from .errors import SettingError, setting_reference
from .manifest import InvalidManifest, parse_manifest_paths
from .releases import KeptRelease, ReleaseRefused, kept_releases, live_release
from .remote import ListedObject, RemoteObject, fetch_object, list_objects
from .storage import ManifestSyncS3Storage

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def manifest_digest(body: bytes) -> str:
    """The SHA-256 a history copy's name carries (of the decoded bytes)."""
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class StoredReleases:
    """What S3 holds under ``location``: one listing and the live manifest."""

    objects: dict[str, ListedObject]
    live: RemoteObject | None
    releases: list[KeptRelease]

    @cached_property
    def sizes(self) -> dict[str, int]:
        return {name: listed.size for name, listed in self.objects.items()}

    @property
    def live_digest(self) -> str | None:
        return None if self.live is None else manifest_digest(self.live.body)[:12]

    @property
    def live_release(self) -> KeptRelease | None:
        return live_release(self.releases, self.live_digest)


@dataclass(frozen=True)
class ReleaseManifest:
    """A kept release's manifest, read from its history copy."""

    release: KeptRelease
    copy: RemoteObject
    paths: dict[str, str]


class ReleaseStore:
    """The releases under one bucket prefix."""

    def __init__(
        self,
        *,
        client: S3Client,
        bucket: str,
        prefix: str,
        manifest_name: str,
        manifest_parameters: dict[str, Any],
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.manifest_name = manifest_name
        self.manifest_parameters = manifest_parameters

    @classmethod
    def for_storage(cls, storage: ManifestSyncS3Storage) -> ReleaseStore:
        problem = bucket_problem(storage.bucket_name)
        if problem:
            raise SettingError(problem)
        manifest_key = storage.object_key(storage.manifest_name)
        return cls(
            client=storage.s3_client,
            bucket=storage.bucket_name,
            prefix=manifest_key[: -len(storage.manifest_name)],
            manifest_name=storage.manifest_name,
            # What a deploy sends with the manifest (Content-Type,
            # Cache-Control, ACL...), so a rollback publishes it the same way.
            manifest_parameters=storage.upload_parameters(manifest_key, hashed=False),
        )

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def url_of(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{name}"

    def read(self) -> StoredReleases:
        """One LIST per 1,000 objects and one GET of the live manifest."""
        objects = list_objects(self.client, self.bucket, self.prefix)
        live = fetch_object(self.client, self.bucket, self.prefix + self.manifest_name)
        return StoredReleases(objects, live, kept_releases(objects, self.manifest_name))

    def live_paths(self, stored: StoredReleases) -> dict[str, str]:
        """The live manifest's paths; an error when there is none to use."""
        live_url = self.url_of(self.manifest_name)
        if stored.live is None:
            raise CommandError(
                f"No manifest is live at {live_url}: nothing is deployed there "
                f"(check {setting_reference('location')})."
            )
        try:
            return parse_manifest_paths(stored.live.body)
        except InvalidManifest as problem:
            raise CommandError(
                f"The live manifest {live_url} is not usable ({problem})."
            ) from problem

    def read_release(self, release: KeptRelease) -> ReleaseManifest:
        """One GET; refused when the copy is gone or not this release's."""
        copy = fetch_object(self.client, self.bucket, self.prefix + release.history)
        if copy is None:
            raise ReleaseRefused(
                f"Release {release.id} is no longer kept: "
                f"{self.url_of(release.history)} is gone."
            )
        if manifest_digest(copy.body)[:12] != release.digest:
            raise ReleaseRefused(
                f"{self.url_of(release.history)} does not hold the manifest its "
                "name says (its SHA-256 differs); it was changed after publishing."
            )
        try:
            paths = parse_manifest_paths(copy.body)
        except InvalidManifest as problem:
            raise ReleaseRefused(
                f"{self.url_of(release.history)} is not a usable manifest ({problem})."
            ) from problem
        return ReleaseManifest(release, copy, paths)


def static_files_storage() -> ManifestSyncS3Storage:
    """The ``staticfiles`` storage (what ``staticfiles_storage`` wraps), if it
    is one whose releases this package keeps."""
    storage = storages[STATICFILES_STORAGE_ALIAS]
    if not isinstance(storage, ManifestSyncS3Storage):
        found = type(storage)
        raise SettingError(
            "Releases are kept by django_s3_manifest_storage.ManifestSyncS3Storage, "
            f"but STORAGES[{STATICFILES_STORAGE_ALIAS!r}]['BACKEND'] is "
            f"{found.__module__}.{found.__qualname__}."
        )
    return storage
