"""The releases kept on S3, read with one listing and a GET per manifest.

Choosing a release and checking it is ``model.py``; making one live is
``rollback.py``. This module only reads S3, through the storage's client (its
retries and settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..errors import ReleaseRefused, setting_reference
from ..planning.manifest import InvalidManifest, parse_manifest_paths
from ..planning.stamp import CollectionStamp
from ..s3 import ListedObject, RemoteObject, S3Location, fetch_object, list_objects
from .history import kept_releases, manifest_digest
from .model import KeptRelease, live_release

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


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

    @property
    def live_originals(self) -> bool:
        """Whether the live release published its originals."""
        return self.live is None or originals_published(self.live)


@dataclass(frozen=True)
class ReleaseManifest:
    """A kept release's manifest, read from its history copy."""

    release: KeptRelease
    copy: RemoteObject
    paths: dict[str, str]

    @property
    def originals(self) -> bool:
        """Whether the release published its originals."""
        return originals_published(self.copy)


def originals_published(manifest: RemoteObject) -> bool:
    """What a manifest's stamp says: False when its release published none
    of its originals (whitenoise's keep-only-hashed mode)."""
    return CollectionStamp.from_metadata(manifest.metadata).originals_published


class ReleaseStore:
    """The releases under one bucket prefix."""

    def __init__(
        self,
        *,
        client: S3Client,
        location: S3Location,
        manifest_name: str,
        manifest_parameters: dict[str, Any],
    ) -> None:
        self.client = client
        self.location = location
        self.bucket = location.bucket
        self.prefix = location.prefix
        self.manifest_name = manifest_name
        self.manifest_parameters = manifest_parameters

    @property
    def url(self) -> str:
        return self.location.url

    def url_of(self, name: str) -> str:
        return self.location.url_of(name)

    def read(self) -> StoredReleases:
        """One LIST per 1,000 objects and one GET of the live manifest."""
        objects = list_objects(self.client, self.bucket, self.prefix)
        live = fetch_object(
            self.client, self.bucket, self.location.key(self.manifest_name)
        )
        return StoredReleases(objects, live, kept_releases(objects, self.manifest_name))

    def live_paths(self, stored: StoredReleases) -> dict[str, str]:
        """The live manifest's paths; an error when there is none to use."""
        live_url = self.url_of(self.manifest_name)
        if stored.live is None:
            raise ReleaseRefused(
                f"No manifest is live at {live_url}: nothing is deployed there "
                f"(check {setting_reference('location')})."
            )
        try:
            return parse_manifest_paths(stored.live.body)
        except InvalidManifest as problem:
            raise ReleaseRefused(
                f"The live manifest {live_url} is not usable ({problem})."
            ) from problem

    def read_release(self, release: KeptRelease) -> ReleaseManifest:
        """One GET; refused when the copy is gone or not this release's."""
        copy = fetch_object(
            self.client, self.bucket, self.location.key(release.history)
        )
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
