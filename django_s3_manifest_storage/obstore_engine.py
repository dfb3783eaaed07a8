"""Uploads through obstore (the ``fast`` extra), with boto3 for the rest.

boto3 spends about 1.5 ms of CPU per PUT in Python, under the GIL; obstore
(Rust's ``object_store``) signs and sends a PUT for a fraction of that (see
``benchmarks/RESULTS.md``). This uploader sends what obstore can express with
obstore, and hands everything else to the boto3 ``Uploader`` it extends:

- files at or above the multipart threshold (boto3's multipart upload);
- parameters obstore cannot send (anything outside ``ATTRIBUTES``,
  ``HEADERS`` and ``Metadata``, such as SSE-C or tagging);
- keys that obstore would rewrite (see ``key_is_verbatim``).

Everything obstore sends is what boto3 would have sent to the same URL: the
endpoint, region and addressing style are botocore's own resolution (a
presigned URL, computed once), the credentials come from the storage's boto3
session, and failures become botocore's exceptions (``obstore_errors``), so
messages, fixes and retries are the boto3 path's. obstore's own retries are
off: each PUT is retried here like botocore's standard retry mode does.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import obstore
from boto3.s3.transfer import TransferConfig
from botocore.credentials import Credentials, RefreshableCredentials
from botocore.exceptions import (
    ClientError,
    ConnectionError,
    HTTPClientError,
)
from obstore.exceptions import BaseError as ObstoreError
from obstore.store import S3Store

from .object_parameters import gzip_file
from .obstore_errors import as_botocore_error
from .publish import Upload, Uploader

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("django_s3_manifest_storage.obstore")

# put_object parameters obstore sends as object attributes.
ATTRIBUTES = {
    "ContentType": "Content-Type",
    "CacheControl": "Cache-Control",
    "ContentEncoding": "Content-Encoding",
    "ContentDisposition": "Content-Disposition",
    "ContentLanguage": "Content-Language",
    "StorageClass": "Storage-Class",
}
# put_object parameters sent as request headers. obstore signs its default
# headers (S3 refuses unsigned x-amz-* headers), so a store per distinct set.
HEADERS = {
    "ACL": "x-amz-acl",
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
}
BUCKET_KEY_HEADER = "x-amz-server-side-encryption-bucket-key-enabled"
RESERVED_METADATA = frozenset(name.lower() for name in ATTRIBUTES.values())

# Keys obstore sends byte for byte, each character checked against a real
# endpoint (test_keys_with_package_punctuation_go_through_obstore): ``@``
# for npm scopes (``@fortawesome/...``), ``+ = , ~`` for generated names.
# object_store drops empty segments and resolves ``.``/``..``, and other
# characters are not proven, so they go through boto3.
VERBATIM_KEY = re.compile(r"[A-Za-z0-9!_.*'()/@+=,~-]+")
# Never expires within a deploy: boto3 has no overall request timeout either.
NO_OVERALL_TIMEOUT = timedelta(days=1)
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
class ObstoreRequest:
    """One upload's parameters in obstore's terms."""

    attributes: dict[str, str]
    headers: tuple[tuple[str, str], ...]


def obstore_request(parameters: dict[str, Any]) -> ObstoreRequest | None:
    """``parameters`` (put_object's) for obstore, or None if it cannot send
    one of them exactly as boto3 would."""
    attributes: dict[str, str] = {}
    headers: list[tuple[str, str]] = []
    for name, value in parameters.items():
        if name == "Metadata":
            if not isinstance(value, dict):
                return None
            for key, item in value.items():
                if not (
                    isinstance(key, str)
                    and isinstance(item, str)
                    and key.isascii()
                    and item.isascii()
                    and key.lower() not in RESERVED_METADATA
                ):
                    return None
                attributes[key] = item
        elif name in ATTRIBUTES and isinstance(value, str):
            attributes[ATTRIBUTES[name]] = value
        elif name in HEADERS and isinstance(value, str):
            headers.append((HEADERS[name], value))
        elif name == "BucketKeyEnabled" and isinstance(value, bool):
            headers.append((BUCKET_KEY_HEADER, "true" if value else "false"))
        else:
            return None
    return ObstoreRequest(attributes, tuple(sorted(headers)))


def key_is_verbatim(key: str) -> bool:
    return (
        bool(VERBATIM_KEY.fullmatch(key))
        and not key.startswith("/")
        and not key.endswith("/")
        and "//" not in key
        and all(segment not in (".", "..") for segment in key.split("/"))
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


class ObstoreUploader(Uploader):
    """``Uploader`` whose small PUTs go through obstore (see module doc)."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        concurrency: int,
        transfer_config: TransferConfig,
        settings: StoreSettings,
        credentials: Credentials,
    ) -> None:
        super().__init__(
            client, bucket, concurrency=concurrency, transfer_config=transfer_config
        )
        self.settings = settings
        self.credentials = SessionCredentials(credentials)
        self._stores: dict[tuple[tuple[str, str], ...], S3Store] = {}
        self._lock = threading.Lock()
        self.sent_by_obstore = 0
        """PUTs obstore made (tests tell the two paths apart by it)."""

    def upload_one(self, upload: Upload) -> int:
        request = obstore_request(upload.parameters)
        if request is None or not key_is_verbatim(upload.key):
            return super().upload_one(upload)
        body: bytes | Path
        if upload.gzip:
            body = gzip_file(upload.path)
            size = len(body)
        else:
            size = upload.path.stat().st_size
            if size >= self.transfer_config.multipart_threshold:
                return super().upload_one(upload)
            body = upload.path  # read by obstore, outside the GIL
        store = self._store(request.headers)
        attempt = 1
        while True:
            try:
                obstore.put(
                    store,
                    upload.key,
                    body,
                    attributes=request.attributes,
                    use_multipart=False,
                )
            except (ObstoreError, FileNotFoundError) as error:
                # FileNotFoundError: obstore's answer to a 404 (NoSuchBucket);
                # the local file was found above.
                failure = as_botocore_error(error)
                delay = self.settings.retry.delay(attempt, failure)
                if delay is None:
                    raise failure from error
                logger.debug(
                    "Retry needed, retrying request after delay of: %s (PUT %s)",
                    delay,
                    upload.key,
                )
                time.sleep(delay)
                attempt += 1
            else:
                with self._lock:
                    self.sent_by_obstore += 1
                return size

    def _store(self, headers: tuple[tuple[str, str], ...]) -> S3Store:
        with self._lock:
            store = self._stores.get(headers)
            if store is None:
                store = self._stores[headers] = self._new_store(headers)
            return store

    def _new_store(self, headers: tuple[tuple[str, str], ...]) -> S3Store:
        settings = self.settings
        client_options: dict[str, Any] = {
            "allow_http": settings.endpoint.url.startswith("http:"),
            "allow_invalid_certificates": settings.allow_invalid_certificates,
            "connect_timeout": timedelta(seconds=settings.connect_timeout),
            "read_timeout": timedelta(seconds=settings.read_timeout),
            "timeout": NO_OVERALL_TIMEOUT,
            "pool_max_idle_per_host": str(self.concurrency),
        }
        default_headers = dict(headers)
        checksum: dict[str, str] = {}
        if settings.checksum:
            checksum["checksum_algorithm"] = settings.checksum
            # What AWS's SDKs send beside a checksum; some stores (moto)
            # keep the checksum only with it.
            default_headers["x-amz-sdk-checksum-algorithm"] = settings.checksum.upper()
        if default_headers:
            client_options["default_headers"] = default_headers
        return S3Store(
            self.bucket,
            endpoint=settings.endpoint.url,
            region=settings.region,
            virtual_hosted_style_request=settings.endpoint.virtual_hosted,
            # Set here so that environment variables cannot change them.
            skip_signature=False,
            unsigned_payload=False,
            request_payer=False,
            **checksum,  # type: ignore[arg-type]
            client_options=client_options,  # type: ignore[arg-type]
            retry_config={"max_retries": 0},
            credential_provider=self.credentials,  # type: ignore[arg-type]
        )
