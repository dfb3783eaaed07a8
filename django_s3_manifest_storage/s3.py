"""Thin helpers over boto3: where a deploy's objects live
(``S3Location``), reading and listing them, deleting in batches, the
client's retries, and one loader of botocore's service models.

Retries: botocore's standard retry mode, unless the user chose a mode.
Service models: django-storages builds a boto3 session for every connection
(the signed one, the unsigned one behind ``url()``, one of each per thread);
each would parse S3's models again, about 11 MB and 80 ms each.
"""

from __future__ import annotations

import functools
import gzip
import os
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .errors import PublishError, describe_s3_error, describe_with_fix

if TYPE_CHECKING:
    from botocore.config import _RetryDict
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class S3Location:
    """A bucket and the key prefix under which a storage's names live
    (``location`` with a trailing slash, or empty)."""

    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        """``s3://bucket/location``, as messages show it."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def key(self, name: str) -> str:
        """The key of a name (a clean one: manifest and history names)."""
        return self.prefix + name

    def name(self, key: str) -> str:
        """The name of a key under the prefix."""
        return key[len(self.prefix) :]

    def url_of(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.key(name)}"


def in_background(function: Callable[[], Any]) -> Future[Any]:
    """Run ``function`` in a thread of its own: S3 is read while the caller
    works locally (copying, hashing)."""
    executor = ThreadPoolExecutor(1, thread_name_prefix="s3-read")
    future = executor.submit(function)
    executor.shutdown(wait=False)
    return future


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


# Retries -------------------------------------------------------------------

# Standard mode retries 500/502/503/504, dropped connections and timeouts
# with a short backoff (tens of milliseconds), and throttling (503 SlowDown)
# with a random backoff of up to 1 s, doubling each time. Its default of 3
# attempts gives a throttled request up to 3 s to recover; 5 attempts give it
# up to 15 s. A retry budget shared by the client stops a retry storm against
# an endpoint that is down. (``max_attempts`` would not count the first try.)
DEFAULT_RETRIES: _RetryDict = {"mode": "standard", "total_max_attempts": 5}

# botocore reads these when the client config sets no retries.
RETRY_ENVIRONMENT_VARIABLES = ("AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS")


def with_default_retries(config: Config) -> Config:
    """``config`` with the standard retry mode, unless retries are already
    configured (``client_config`` / ``AWS_S3_CLIENT_CONFIG``, or botocore's
    environment variables)."""
    if getattr(config, "retries", None) is not None or any(
        os.environ.get(name) for name in RETRY_ENVIRONMENT_VARIABLES
    ):
        return config
    return config.merge(Config(retries=DEFAULT_RETRIES.copy()))


@functools.cache
def shared_service_models() -> Any:
    """botocore's loader as a default session builds it (``AWS_DATA_PATH``
    applies); it keeps every model it parses."""
    return botocore.session.get_session().get_component("data_loader")
