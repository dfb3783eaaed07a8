"""Reading the deployed state from S3: one GET for the manifest."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from .errors import PublishError, describe_s3_error

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass(frozen=True)
class RemoteObject:
    body: bytes
    metadata: dict[str, str] = field(default_factory=dict)


def fetch_object(client: S3Client, bucket: str, key: str) -> RemoteObject | None:
    """Return an object's bytes and user metadata, or None when it is absent."""
    try:
        response = client.get_object(Bucket=bucket, Key=key)
        body = response["Body"].read()
        if response.get("ContentEncoding") == "gzip":
            body = _decompressed(body)
        return RemoteObject(body, response.get("Metadata", {}))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in MISSING_OBJECT_CODES:
            return None
        raise PublishError(
            f"Cannot read s3://{bucket}/{key}: {describe_s3_error(error)}"
        ) from error
    except BotoCoreError as error:
        raise PublishError(
            f"Cannot read s3://{bucket}/{key}: {describe_s3_error(error)}"
        ) from error


def _decompressed(body: bytes) -> bytes:
    """The bytes of an object stored gzip-encoded (the ``gzip`` option
    compresses JSON, manifests included); undecodable bytes are returned as
    they are, for the manifest parser to reject."""
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error):
        return body
