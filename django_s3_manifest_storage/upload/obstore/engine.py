"""Uploads through obstore (the ``fast`` extra), with boto3 for the rest.

boto3 spends about 1.5 ms of CPU per PUT in Python, under the GIL; obstore
(Rust's ``object_store``) signs and sends a PUT for a fraction of that (see
``benchmarks/RESULTS.md``). This uploader sends what obstore can express with
obstore, and hands everything else to the ``Boto3Uploader`` it extends:

- files at or above the multipart threshold (boto3's multipart upload);
- parameters obstore cannot send (anything outside ``ATTRIBUTES``,
  ``HEADERS`` and ``Metadata``, such as SSE-C or tagging; see
  ``parameters.py``);
- keys that obstore would rewrite (see ``key_is_verbatim``).

Everything obstore sends is what boto3 would have sent to the same URL: the
endpoint, region and addressing style are botocore's own resolution (a
presigned URL, computed once; ``settings.py``), the credentials come
from the storage's boto3 session, and failures become botocore's exceptions
(``errors.py``), so messages, fixes and retries are the boto3 path's.
obstore's own retries are off: each PUT is retried here like botocore's
standard retry mode does.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import obstore
from boto3.s3.transfer import TransferConfig
from botocore.credentials import Credentials
from obstore.exceptions import BaseError as ObstoreError
from obstore.store import S3Store

from ..uploader import Boto3Uploader, Upload
from .errors import as_botocore_error
from .parameters import key_is_verbatim, obstore_request
from .settings import SessionCredentials, StoreSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("django_s3_manifest_storage.obstore")

# Never expires within a deploy: boto3 has no overall request timeout either.
NO_OVERALL_TIMEOUT = timedelta(days=1)


class ObstoreUploader(Boto3Uploader):
    """``Boto3Uploader`` whose small PUTs go through obstore (see module doc)."""

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
        if upload.gzip:
            body = upload.gzipped_body()
        else:
            if upload.path.stat().st_size >= self.transfer_config.multipart_threshold:
                return super().upload_one(upload)
            # Read here: given the path, obstore reads the file itself, and
            # a large deploy's process held about 40 MB more.
            body = upload.path.read_bytes()
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
                # the local file was read above.
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
                return len(body)

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
