"""What obstore needs to send a boto3 client's PUTs as boto3 would: the
endpoint botocore resolves, the session's credentials, botocore's standard
retry mode and its checksum setting, read from the client's configuration."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.credentials import Credentials, RefreshableCredentials
from botocore.exceptions import (
    ClientError,
    ConnectionError,
    HTTPClientError,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Refreshable credentials (assumed roles, SSO) are asked again this often;
# botocore refreshes them itself when they near expiry.
CREDENTIAL_TTL = timedelta(minutes=5)

# botocore's standard retry mode (botocore.retries.standard): which failures
# are retried and how long to wait; its retry quota is not modelled.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 20.0

# Settings obstore reads from the environment that boto3 never reads: with
# any of them set, obstore's PUTs would differ from boto3's.
OBSTORE_ONLY_ENVIRONMENT = (
    "AWS_SERVER_SIDE_ENCRYPTION",
    "AWS_SSE_KMS_KEY_ID",
    "AWS_SSE_BUCKET_KEY_ENABLED",
    "AWS_SSE_CUSTOMER_KEY_BASE64",
    "AWS_CHECKSUM_ALGORITHM",
    "AWS_CONDITIONAL_PUT",
    "AWS_DISABLE_TAGGING",
)


@dataclass(frozen=True)
class Endpoint:
    """Where botocore sends a PUT to the bucket, in obstore's terms."""

    url: str
    virtual_hosted: bool


PROBE_KEY = "probe"


def resolve_endpoint(client: S3Client, bucket: str) -> Endpoint | None:
    """botocore's URL for the bucket (endpoint, region, addressing style,
    dual-stack and accelerate all applied), from a presigned URL, which
    sends nothing. None if obstore cannot address it the same way."""
    url = client.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": PROBE_KEY}, ExpiresIn=60
    )
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    path_style = f"/{bucket}/{PROBE_KEY}"
    if parts.path.endswith(path_style):
        return Endpoint(base + parts.path[: -len(path_style)], virtual_hosted=False)
    if parts.path == f"/{PROBE_KEY}" and (parts.hostname or "").startswith(
        f"{bucket}."
    ):
        return Endpoint(base, virtual_hosted=True)
    return None


class SessionCredentials:
    """obstore's credential provider over the storage's boto3 credentials
    (keys, profiles, SSO, instance metadata, assumed roles alike)."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    def __call__(self) -> dict[str, Any]:
        frozen = self.credentials.get_frozen_credentials()
        refreshable = isinstance(self.credentials, RefreshableCredentials)
        return {
            "access_key_id": frozen.access_key,
            "secret_access_key": frozen.secret_key,
            "token": frozen.token,
            "expires_at": (
                datetime.now(timezone.utc) + CREDENTIAL_TTL if refreshable else None
            ),
        }


@dataclass(frozen=True)
class RetryPolicy:
    total_attempts: int

    def delay(self, attempt: int, error: Exception) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None when
        botocore's standard mode would give up after ``attempt``."""
        if attempt >= self.total_attempts:
            return None
        if isinstance(error, ClientError):
            code = error.response.get("Error", {}).get("Code", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            throttled = code in THROTTLING_CODES or status == 429
            if not (
                throttled or code in TRANSIENT_CODES or status in TRANSIENT_STATUSES
            ):
                return None
            scale = 1.0 if throttled else 0.05
        elif isinstance(error, (ConnectionError, HTTPClientError)):
            scale = 0.05
        else:
            return None
        backoff: float = min(scale * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
        return random.random() * backoff


def standard_retry_attempts(config: Any) -> int | None:
    """Total attempts of a client config in botocore's standard retry mode,
    or None for another mode (whose behaviour is not modelled here)."""
    retries = getattr(config, "retries", None)
    if not retries or retries.get("mode") != "standard":
        return None
    if "total_max_attempts" in retries:
        return int(retries["total_max_attempts"])
    if "max_attempts" in retries:
        return int(retries["max_attempts"]) + 1
    return 3  # botocore's default for standard mode


@dataclass(frozen=True)
class StoreSettings:
    endpoint: Endpoint
    region: str
    connect_timeout: float
    read_timeout: float
    allow_invalid_certificates: bool
    retry: RetryPolicy
    checksum: str | None
    """obstore's checksum algorithm: botocore sends a CRC32 checksum with
    every upload unless told to send them only when required; obstore cannot
    send CRC32, so it sends SHA-256 instead (S3 checks either)."""


def store_settings(
    client: S3Client, bucket: str, *, verify: bool | str | None
) -> StoreSettings | None:
    """What obstore needs to send the client's requests, or None if the
    client is configured in a way obstore cannot copy (a CA bundle, a proxy,
    client certificates, a retry mode other than standard, SigV2, an
    obstore-only environment variable)."""
    config = client.meta.config
    attempts = standard_retry_attempts(config)
    if (
        attempts is None
        or any(os.environ.get(name) for name in OBSTORE_ONLY_ENVIRONMENT)
        or isinstance(verify, str)
        or getattr(config, "proxies", None)
        or getattr(config, "client_cert", None)
        or getattr(config, "signature_version", None) not in (None, "s3v4")
    ):
        return None
    endpoint = resolve_endpoint(client, bucket)
    if endpoint is None:
        return None
    # botocore before 1.36 has no such setting and sends no checksums.
    checksums = (
        (
            getattr(config, "request_checksum_calculation", None)
            or os.environ.get("AWS_REQUEST_CHECKSUM_CALCULATION")
            or "when_supported"
        )
        if hasattr(config, "request_checksum_calculation")
        else "when_required"
    )
    return StoreSettings(
        endpoint=endpoint,
        region=client.meta.region_name,
        connect_timeout=float(getattr(config, "connect_timeout", None) or 60),
        read_timeout=float(getattr(config, "read_timeout", None) or 60),
        allow_invalid_certificates=verify is False,
        retry=RetryPolicy(attempts),
        checksum="sha256" if checksums.lower() == "when_supported" else None,
    )
