"""The releases kept on S3: read with one listing and a GET per manifest, and
made live again with one request.

Choosing a release and checking it is ``releases.py``; this module only
talks to S3, through the storage's client (its retries and settings).
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import STATICFILES_STORAGE_ALIAS
from django.core.files.storage import storages
from django.core.management.base import CommandError

from .configuration import bucket_problem
from .deploy import CollectionStamp
from .errors import (
    PublishError,
    SettingError,
    describe_s3_error,
    describe_with_fix,
    setting_reference,
)
from .manifest import InvalidManifest, parse_manifest_paths
from .plan import history_name
from .releases import (
    TIMESTAMP_FORMAT,
    KeptRelease,
    ReleaseRefused,
    kept_releases,
    live_release,
)
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

    def publish(self, manifest: ReleaseManifest) -> str:
        """Make a kept release live; return the name of its new history copy.

        A new copy is recorded first, as a deploy does: retention keeps the
        newest copies, and the release going live must be one of them, or the
        next deploy could delete files its processes still use. Then the live
        manifest is replaced in one request, so it is either the old manifest
        or the release's, never anything in between.
        """
        recorded = history_name(
            self.manifest_name,
            datetime.datetime.now(datetime.timezone.utc).strftime(TIMESTAMP_FORMAT),
            manifest_digest(manifest.copy.body),
        )
        _ReleaseWrites(self, manifest).write([recorded, self.manifest_name])
        return recorded


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


class _ReleaseWrites:
    """Objects written from one history copy: CopyObject (S3 copies the bytes
    in place), or GET + PUT for stores that answer NotImplemented."""

    def __init__(self, store: ReleaseStore, manifest: ReleaseManifest) -> None:
        self.store = store
        self.manifest = manifest
        self.copy_supported = True
        self.parameters = dict(store.manifest_parameters)
        # The release's own fingerprint: the next deploy compares against it.
        stamp = CollectionStamp.from_metadata(manifest.copy.metadata)
        self.parameters["Metadata"] = {
            **self.parameters.get("Metadata", {}),
            **stamp.metadata(),
        }
        # The bytes are copied as stored: say how they are encoded.
        self.parameters.pop("ContentEncoding", None)
        if manifest.copy.content_encoding:
            self.parameters["ContentEncoding"] = manifest.copy.content_encoding

    def write(self, names: Sequence[str]) -> None:
        for index, name in enumerate(names):
            try:
                self.write_one(name)
            except (ClientError, BotoCoreError) as error:
                failure = self.failure(name, error)
                if isinstance(error, ClientError):
                    # S3 refused: nothing went live. Take back the copies
                    # written so far, so the list shows no release that never
                    # was. After a dropped connection the request may have
                    # succeeded, and they must stay.
                    failure = self.discard(names[:index], failure)
                raise failure from error

    def write_one(self, name: str) -> None:
        store = self.store
        key = store.prefix + name
        if self.copy_supported:
            try:
                store.client.copy_object(
                    Bucket=store.bucket,
                    Key=key,
                    CopySource={
                        "Bucket": store.bucket,
                        "Key": store.prefix + self.manifest.release.history,
                    },
                    MetadataDirective="REPLACE",
                    **self.parameters,
                )
                return
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "NotImplemented":
                    raise
                self.copy_supported = False
        store.client.put_object(
            Bucket=store.bucket, Key=key, Body=self.stored_body(), **self.parameters
        )

    def stored_body(self) -> bytes:
        copy = self.manifest.copy
        if copy.content_encoding == "gzip":
            # As a deploy compresses (no timestamp): the same bytes again.
            return gzip.compress(copy.body, mtime=0)
        return copy.body

    def discard(self, names: Sequence[str], failure: PublishError) -> PublishError:
        """Delete ``names``; add to ``failure`` any that stays behind."""
        store = self.store
        left = [
            f"{store.url_of(name)}: {reason}"
            for name, reason in (
                (name, self.delete(store.prefix + name)) for name in names
            )
            if reason
        ]
        if not left:
            return failure
        return PublishError(
            f"{failure}\nA copy written for this rollback could not be removed: "
            + "; ".join(left)
        )

    def delete(self, key: str) -> str | None:
        """Delete one object; the reason it failed, or None."""
        try:
            self.store.client.delete_object(Bucket=self.store.bucket, Key=key)
        except (ClientError, BotoCoreError) as error:
            return describe_s3_error(error)
        return None

    def failure(self, name: str, error: BaseException) -> PublishError:
        live = self.store.url_of(self.store.manifest_name)
        outcome = (
            f"{live} was not replaced"
            if isinstance(error, ClientError)
            else f"{live} may not have been replaced: run staticreleases to see "
            "which release is live"
        )
        return PublishError(
            f"Cannot make release {self.manifest.release.id} live: writing "
            f"{self.store.url_of(name)} failed: {describe_with_fix(error)}\n"
            f"{outcome}; rerun the rollback."
        )
