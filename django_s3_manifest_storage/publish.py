"""Carrying out a publish plan against S3: concurrent uploads, wave by wave."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from .errors import PublishError, describe_s3_error, what_to_fix
from .object_parameters import gzip_file

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
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
        uploads: Sequence[Upload],
        on_uploaded: Callable[[Upload, int], None] = lambda upload, size: None,
    ) -> list[UploadFailure]:
        """Upload every file; return the failures (all of them, not just the first)."""
        if not uploads:
            return []
        failures: list[UploadFailure] = []
        workers = min(self.concurrency, len(uploads))
        with ThreadPoolExecutor(workers, thread_name_prefix="s3-upload") as pool:
            futures = {
                pool.submit(self.upload_one, upload): upload for upload in uploads
            }
            for future in as_completed(futures):
                upload = futures[future]
                try:
                    size = future.result()
                except UPLOAD_ERRORS as error:
                    failures.append(upload_failure(upload, error))
                else:
                    on_uploaded(upload, size)
        return failures


# What an upload can raise: S3's answer, the network, the local file.
UPLOAD_ERRORS = (BotoCoreError, ClientError, S3UploadFailedError, OSError)


def upload_failure(upload: Upload, error: BaseException) -> UploadFailure:
    return UploadFailure(upload, describe_s3_error(error), what_to_fix(error))


class BackgroundUploads:
    """Uploads that run while the caller keeps working (hashing).

    Hashed names of files that hashing will not touch again are final as soon
    as Django yields them, so they can go to S3 while the rest is hashed.
    """

    def __init__(self, uploader: Uploader) -> None:
        self.uploader = uploader
        self.pool = ThreadPoolExecutor(
            uploader.concurrency, thread_name_prefix="s3-early-upload"
        )
        self.futures: dict[str, tuple[Upload, Future[int]]] = {}

    def submit(self, upload: Upload) -> None:
        if upload.name not in self.futures:
            future = self.pool.submit(self.uploader.upload_one, upload)
            self.futures[upload.name] = (upload, future)

    def finish(self) -> tuple[dict[str, int], list[UploadFailure]]:
        """Wait for every upload: ``({name: bytes sent}, failures)``."""
        sent: dict[str, int] = {}
        failures: list[UploadFailure] = []
        try:
            for name, (upload, future) in self.futures.items():
                try:
                    sent[name] = future.result()
                except UPLOAD_ERRORS as error:
                    failures.append(upload_failure(upload, error))
        finally:
            self.pool.shutdown(wait=True)
        return sent, failures

    def cancel(self) -> None:
        """Stop what has not started (hashing failed: nothing will publish)."""
        self.pool.shutdown(wait=True, cancel_futures=True)


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
