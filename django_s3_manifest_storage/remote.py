"""Reading the deployed state from S3: one GET for the manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from .errors import PublishError, describe_with_fix

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
        return RemoteObject(response["Body"].read(), response.get("Metadata", {}))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in MISSING_OBJECT_CODES:
            return None
        raise _unreadable(bucket, key, error) from error
    except BotoCoreError as error:
        raise _unreadable(bucket, key, error) from error


def _unreadable(bucket: str, key: str, error: BaseException) -> PublishError:
    return PublishError(f"Cannot read s3://{bucket}/{key}: {describe_with_fix(error)}")
