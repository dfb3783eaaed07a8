"""Reading the deployed state from S3: one GET for the manifest, listings."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from .errors import PublishError, describe_s3_error, describe_with_fix

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass(frozen=True)
class RemoteObject:
    body: bytes
    metadata: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None
    content_encoding: str | None = None
    """How the object is stored (``gzip``); ``body`` is already decoded."""


@dataclass(frozen=True)
class ListedObject:
    """One entry of a bucket listing."""

    etag: str
    last_modified: datetime
    size: int


@dataclass(frozen=True)
class DeleteFailure:
    key: str
    reason: str


def fetch_object(client: S3Client, bucket: str, key: str) -> RemoteObject | None:
    """Return an object's bytes and user metadata, or None when it is absent."""
    try:
        response = client.get_object(Bucket=bucket, Key=key)
        body = response["Body"].read()
        encoding = response.get("ContentEncoding")
        if encoding == "gzip":
            body = _decompressed(body)
        return RemoteObject(
            body,
            response.get("Metadata", {}),
            last_modified=response.get("LastModified"),
            content_encoding=encoding,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in MISSING_OBJECT_CODES:
            return None
        raise _unreadable(bucket, key, error) from error
    except BotoCoreError as error:
        raise _unreadable(bucket, key, error) from error


def list_objects(client: S3Client, bucket: str, prefix: str) -> dict[str, ListedObject]:
    """Every object under ``prefix``, by name (the key without the prefix):
    1 LIST per 1,000."""
    objects: dict[str, ListedObject] = {}
    paginator = client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", ()):
                objects[entry["Key"][len(prefix) :]] = ListedObject(
                    entry.get("ETag", "").strip('"'),
                    entry["LastModified"],
                    entry.get("Size", 0),
                )
    except (ClientError, BotoCoreError) as error:
        raise PublishError(
            f"Cannot list s3://{bucket}/{prefix}: {describe_with_fix(error)}"
        ) from error
    return objects


DELETE_BATCH_SIZE = 1000  # the most DeleteObjects accepts


def delete_keys(
    client: S3Client, bucket: str, keys: Sequence[str]
) -> list[DeleteFailure]:
    """Delete keys in batches; return each one that failed, and why."""
    failures: list[DeleteFailure] = []
    for start in range(0, len(keys), DELETE_BATCH_SIZE):
        batch = keys[start : start + DELETE_BATCH_SIZE]
        try:
            response = client.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
        except (ClientError, BotoCoreError) as error:
            reason = describe_s3_error(error)
            failures.extend(DeleteFailure(key, reason) for key in batch)
            continue
        failures.extend(
            DeleteFailure(
                error.get("Key", ""),
                f"{error.get('Code')}: {error.get('Message', '')}".rstrip(": "),
            )
            for error in response.get("Errors", ())
        )
    return failures


def _decompressed(body: bytes) -> bytes:
    """The bytes of an object stored gzip-encoded (the ``gzip`` option
    compresses JSON, manifests included); undecodable bytes are returned as
    they are, for the manifest parser to reject."""
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error):
        return body


def _unreadable(bucket: str, key: str, error: BaseException) -> PublishError:
    return PublishError(f"Cannot read s3://{bucket}/{key}: {describe_with_fix(error)}")
