"""Sending objects to S3: the ``Uploader`` interface every engine offers,
the boto3 engine, and uploads that run in the background.

An engine uploads one file (``upload_one``) or a wave of them, concurrently
(``upload_wave``); failures come back as values naming the file, the S3
error and the setting to fix. ``engines.py`` picks the engine for a run.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any, Protocol

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import PublishError, describe_s3_error, what_to_fix

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True, slots=True)
class Upload:
    """One staged file and how it goes to S3."""

    name: str
    path: Path
    key: str
    parameters: dict[str, Any]
    gzip: bool
    in_place: bool = False
    """Only the parameters change: S3 holds the bytes already, and the
    object is copied onto itself with the new ones (``copy_one``)."""
    compressed: bytes | None = None
    """The gzipped bytes, when the caller compressed them already."""

    def gzipped_body(self) -> bytes:
        return self.compressed if self.compressed is not None else gzip_file(self.path)


@dataclass(frozen=True)
class UploadFailure:
    upload: Upload
    reason: str
    fix: str | None = None
    retryable: bool = False
    """A later attempt may succeed: throttling, a server error, the network."""


class UnrecognisedUploadError(Exception):
    """An engine's failure with no boto3 counterpart; never retried."""


def gzip_file(path: Path) -> bytes:
    """Gzip a file reproducibly: no name or timestamp in the header.

    Identical input gives identical bytes, so S3's ETag stays stable.
    """
    return gzip.compress(path.read_bytes(), mtime=0)


class Uploader(Protocol):
    """What a deploy needs from an upload engine."""

    @property
    def concurrency(self) -> int:
        """How many uploads it keeps in flight."""

    def upload_one(self, upload: Upload) -> int:
        """Upload one file; return the bytes sent."""

    def copy_one(self, upload: Upload) -> int | None:
        """Give a stored object ``upload``'s parameters with a copy onto
        itself: None. Where the server refuses copies, upload the file
        instead: the bytes sent."""

    def upload_wave(
        self,
        uploads: Iterable[Upload],
        on_uploaded: Callable[[Upload, int], None] = ...,
        *,
        retry_delays: Sequence[float] = (),
    ) -> list[UploadFailure]:
        """Upload every file; return the failures."""


class Boto3Uploader:
    """Uploads files with a fixed number of requests in flight.

    One client is shared by all threads (boto3 clients are thread-safe); its
    connection pool must be at least ``concurrency`` wide.
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        concurrency: int,
        transfer_config: TransferConfig,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.concurrency = concurrency
        self.transfer_config = transfer_config
        self.copies_refused = False

    def upload_one(self, upload: Upload) -> int:
        """Upload one file, streamed from disk; return the bytes sent."""
        if upload.gzip:
            body = upload.gzipped_body()
            self.client.put_object(
                Bucket=self.bucket, Key=upload.key, Body=body, **upload.parameters
            )
            return len(body)
        size = upload.path.stat().st_size
        if size >= self.transfer_config.multipart_threshold:
            self.client.upload_file(
                str(upload.path),
                self.bucket,
                upload.key,
                ExtraArgs=upload.parameters,
                Config=self.transfer_config,
            )
        else:
            with upload.path.open("rb") as body_file:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=upload.key,
                    Body=body_file,
                    **upload.parameters,
                )
        return size

    def copy_one(self, upload: Upload) -> int | None:
        """Replace a stored object's parameters with a copy onto itself
        (``MetadataDirective=REPLACE``): the new set in full, as a PUT of
        the bytes would leave them (tags too: none unless ``Tagging`` says
        so). Once the server answers NotImplemented, every object is
        uploaded instead (as ``releases/rollback.py`` does); so is an
        object over CopyObject's 5 GB limit."""
        if not self.copies_refused and upload.path.stat().st_size <= COPY_LIMIT:
            try:
                self.client.copy_object(
                    Bucket=self.bucket,
                    Key=upload.key,
                    CopySource={"Bucket": self.bucket, "Key": upload.key},
                    MetadataDirective="REPLACE",
                    TaggingDirective="REPLACE",
                    **upload.parameters,
                )
                return None
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "NotImplemented":
                    raise
                self.copies_refused = True
        return self.upload_one(upload)

    def send_one(self, upload: Upload) -> tuple[Upload, int]:
        """Upload, or update in place: the upload as it was made (an update
        the server refused became an upload) and the bytes sent."""
        if not upload.in_place:
            return upload, self.upload_one(upload)
        sent = self.copy_one(upload)
        if sent is None:
            return upload, 0
        return replace(upload, in_place=False), sent

    def upload_wave(
        self,
        uploads: Iterable[Upload],
        on_uploaded: Callable[[Upload, int], None] = lambda upload, size: None,
        *,
        retry_delays: Sequence[float] = (),
    ) -> list[UploadFailure]:
        """Upload every file, or update it in place (``Upload.in_place``);
        return the failures (all of them, not just the first). The callback
        gets each upload as made (see ``send_one``). When every failure is one a retry may cure, the failed files
        are tried again after each of ``retry_delays``, with half as many in
        flight each time: a throttled bucket gets time and fewer requests.
        ``uploads`` is read as the uploads go: an iterator keeps only those
        in flight in memory."""
        concurrency = self.concurrency
        pending: Iterable[Upload] = uploads
        for delay in (*retry_delays, None):
            failures = self._upload_once(pending, on_uploaded, concurrency)
            if delay is None or not failures:
                return failures
            if not all(failure.retryable for failure in failures):
                return failures  # what will not heal fails the deploy now
            time.sleep(delay)
            concurrency = max(1, concurrency // 2)
            pending = [failure.upload for failure in failures]
        return []  # pragma: no cover (the loop always returns)

    def _upload_once(
        self,
        uploads: Iterable[Upload],
        on_uploaded: Callable[[Upload, int], None],
        concurrency: int,
    ) -> list[UploadFailure]:
        failures: list[UploadFailure] = []
        workers = concurrency  # started as uploads come: none for none
        # A few uploads per thread keep every thread busy; a Future per file
        # of a 100,000-file wave would only hold memory.
        backlog = workers * IN_POOL_PER_THREAD
        running: dict[Future[tuple[Upload, int]], Upload] = {}
        # Finished uploads, in the order they finish: taking the next one is
        # O(1), where ``wait()`` would look at every future in the pool.
        finished: SimpleQueue[Future[tuple[Upload, int]]] = SimpleQueue()

        def collect_one() -> None:
            future = finished.get()
            upload = running.pop(future)
            try:
                made, size = future.result()
            except UPLOAD_ERRORS as error:
                failures.append(upload_failure(upload, error))
            else:
                on_uploaded(made, size)

        with ThreadPoolExecutor(workers, thread_name_prefix="s3-upload") as pool:
            for upload in uploads:
                if len(running) >= backlog:
                    collect_one()
                future = pool.submit(self.send_one, upload)
                running[future] = upload
                future.add_done_callback(finished.put)
            while running:
                collect_one()
        return failures


# The largest object one CopyObject request copies.
COPY_LIMIT = 5 * 1024**3


# Uploads in a pool (running or queued) per upload thread: enough that a
# thread never waits for the next one, few enough that memory does not grow
# with the number of files.
IN_POOL_PER_THREAD = 4


# What an upload can raise: S3's answer, the network, the local file (and
# what the obstore engine cannot translate into one of those).
UPLOAD_ERRORS = (
    BotoCoreError,
    ClientError,
    S3UploadFailedError,
    OSError,
    UnrecognisedUploadError,
)


def upload_failure(upload: Upload, error: BaseException) -> UploadFailure:
    fix = what_to_fix(error)
    return UploadFailure(
        upload, describe_s3_error(error), fix, retryable=is_retryable(error, fix)
    )


# S3 answers that a later attempt may not get: anything else 4xx is final.
RETRYABLE_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout"}
)


def is_retryable(error: BaseException, fix: str | None) -> bool:
    """Whether the failure may heal by itself: throttling, 5xx, the network;
    never one whose fix is a setting (credentials, bucket, permissions)."""
    if fix is not None:
        return False
    if isinstance(error, S3UploadFailedError) and error.__context__ is not None:
        return is_retryable(error.__context__, fix)
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in RETRYABLE_CODES or status >= 500
    return isinstance(error, BotoCoreError)


def failure_message(bucket: str, failures: Sequence[UploadFailure]) -> str:
    shown = sorted(failures, key=lambda failure: failure.upload.name)[:10]
    lines = [
        f"{len(failures)} file(s) could not be uploaded to s3://{bucket}; "
        "the deployed manifest was left unchanged, so the site still serves the "
        "previous release. Rerun collectstatic to finish the deploy.",
        *(
            f"  {failure.upload.name} -> s3://{bucket}/{failure.upload.key}: "
            f"{failure.reason}"
            for failure in shown
        ),
    ]
    if len(failures) > len(shown):
        lines.append(f"  ... and {len(failures) - len(shown)} more")
    lines.extend(sorted({failure.fix for failure in failures if failure.fix}))
    return "\n".join(lines)


def raise_for_failures(bucket: str, failures: Sequence[UploadFailure]) -> None:
    if failures:
        raise PublishError(failure_message(bucket, failures))
