"""Making a kept release live again: its manifest replaces the live one in
one request, so the live manifest is either the old one or the release's."""

from __future__ import annotations

import gzip
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import PublishError, describe_s3_error, describe_with_fix
from ..planning.stamp import CollectionStamp
from .history import new_history_name
from .store import ReleaseManifest, ReleaseStore


def publish_release(store: ReleaseStore, manifest: ReleaseManifest) -> str:
    """Make a kept release live; return the name of its new history copy.

    A new copy is recorded first, as a deploy does: retention keeps the
    newest copies, and the release going live must be one of them, or the
    next deploy could delete files its processes still use. Then the live
    manifest is replaced in one request, so it is either the old manifest
    or the release's, never anything in between.
    """
    recorded = new_history_name(store.manifest_name, manifest.copy.body)
    _ReleaseWrites(store, manifest).write([recorded, store.manifest_name])
    return recorded


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
        key = store.location.key(name)
        if self.copy_supported:
            try:
                store.client.copy_object(
                    Bucket=store.bucket,
                    Key=key,
                    CopySource={
                        "Bucket": store.bucket,
                        "Key": store.location.key(self.manifest.release.history),
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
                (name, self.delete(store.location.key(name))) for name in names
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
