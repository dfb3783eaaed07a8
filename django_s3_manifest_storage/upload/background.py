"""Uploads that run while the caller keeps working (hashing)."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from .uploader import (
    IN_POOL_PER_THREAD,
    UPLOAD_ERRORS,
    Upload,
    Uploader,
    UploadFailure,
    upload_failure,
)


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
        self.sent: dict[str, int] = {}
        self.failures: list[UploadFailure] = []
        self._unexpected: list[BaseException] = []

    def submit(self, upload: Upload) -> None:
        """Upload ``upload`` in the background; the caller submits each
        name once."""
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
