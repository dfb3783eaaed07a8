"""Carrying out a publish plan against S3: concurrent uploads, wave by wave."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from .errors import PublishError, describe_s3_error, what_to_fix
from .object_parameters import gzip_file
from .obstore_errors import UnrecognisedUploadError

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


@dataclass(frozen=True)
class UploadFailure:
    upload: Upload
    reason: str
    fix: str | None = None
    retryable: bool = False
    """A later attempt may succeed: throttling, a server error, the network."""


class Uploader:
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

    def upload_one(self, upload: Upload) -> int:
        """Upload one file, streamed from disk; return the bytes sent."""
        if upload.gzip:
            body = gzip_file(upload.path)
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

    def upload_wave(
        self,
        uploads: Iterable[Upload],
        on_uploaded: Callable[[Upload, int], None] = lambda upload, size: None,
        *,
        retry_delays: Sequence[float] = (),
    ) -> list[UploadFailure]:
        """Upload every file; return the failures (all of them, not just the
        first). When every failure is one a retry may cure, the failed files
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
        running: dict[Future[int], Upload] = {}
        # Finished uploads, in the order they finish: taking the next one is
        # O(1), where ``wait()`` would look at every future in the pool.
        finished: SimpleQueue[Future[int]] = SimpleQueue()

        def collect_one() -> None:
            future = finished.get()
            upload = running.pop(future)
            try:
                size = future.result()
            except UPLOAD_ERRORS as error:
                failures.append(upload_failure(upload, error))
            else:
                on_uploaded(upload, size)

        with ThreadPoolExecutor(workers, thread_name_prefix="s3-upload") as pool:
            for upload in uploads:
                if len(running) >= backlog:
                    collect_one()
                future = pool.submit(self.upload_one, upload)
                running[future] = upload
                future.add_done_callback(finished.put)
            while running:
                collect_one()
        return failures


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


class BackgroundUploads:
    """Uploads that run while the caller keeps working (hashing).

    Hashed names of files that hashing will not touch again are final as soon
    as Django yields them, so they can go to S3 while the rest is hashed.
    ``submit`` waits while the queue is full: when S3 is slower than hashing,
    the backlog stays in the files not yet hashed instead of in memory.
    """

    def __init__(self, uploader: Uploader) -> None:
        self.uploader = uploader
        self.pool = ThreadPoolExecutor(
            uploader.concurrency, thread_name_prefix="s3-early-upload"
        )
        self._free_slots = threading.Semaphore(
            uploader.concurrency * IN_POOL_PER_THREAD
        )
        self._lock = threading.Lock()
        self._submitted: set[str] = set()
        self.sent: dict[str, int] = {}
        self.failures: list[UploadFailure] = []
        self._unexpected: list[BaseException] = []

    def submit(self, upload: Upload) -> None:
        if upload.name in self._submitted:
            return
        self._submitted.add(upload.name)
        self._free_slots.acquire()
        future = self.pool.submit(self.uploader.upload_one, upload)
        future.add_done_callback(lambda done: self._record(upload, done))

    def _record(self, upload: Upload, future: Future[int]) -> None:
        try:
            if future.cancelled():
                return
            error = future.exception()
            with self._lock:
                if error is None:
                    self.sent[upload.name] = future.result()
                elif isinstance(error, UPLOAD_ERRORS):
                    self.failures.append(upload_failure(upload, error))
                else:
                    self._unexpected.append(error)
        finally:
            self._free_slots.release()

    def finish(self) -> tuple[dict[str, int], list[UploadFailure]]:
        """Wait for every upload: ``({name: bytes sent}, failures)``."""
        self.pool.shutdown(wait=True)
        if self._unexpected:
            raise self._unexpected[0]
        return self.sent, self.failures

    def cancel(self) -> dict[str, int]:
        """Stop what has not started (hashing failed: nothing will publish);
        return ``{name: bytes}`` of the uploads that completed."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        return self.sent


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
