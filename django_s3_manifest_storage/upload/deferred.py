"""A run's boto3 client and uploader, made in a thread of their own.

Making a boto3 client costs about 0.1-0.2 s of CPU (botocore's models, its
event handlers, a session), the uploader more with obstore (credentials,
store settings). A run needs neither before it reads S3, which it does in
the background anyway, so neither is made on the path collectstatic's first
file operation waits on: the objects returned here stand for them, and a
use waits for them only if they are not made yet. An error making them
(a bad ``endpoint_url``, say) is raised by that first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, cast

from ..s3 import in_background
from .uploader import Upload, Uploader, UploadFailure

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def connect_in_background(
    connect: Callable[[], tuple[S3Client, Uploader]],
) -> tuple[S3Client, Uploader]:
    """``connect()``'s client and uploader, made in a thread of their own."""
    made: Future[tuple[S3Client, Uploader]] = in_background(connect)
    client = ClientInBackground(lambda: made.result()[0])
    return cast("S3Client", client), UploaderInBackground(lambda: made.result()[1])


class ClientInBackground:
    """Stands for a boto3 client being made: every attribute is the
    client's, once it is made. (A client has hundreds of methods, generated
    from botocore's model: forwarding them is all this can do.)"""

    def __init__(self, client: Callable[[], S3Client]) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client(), name)


class UploaderInBackground:
    """Stands for an ``Uploader`` being made."""

    def __init__(self, uploader: Callable[[], Uploader]) -> None:
        self._uploader = uploader

    @property
    def concurrency(self) -> int:
        return self._uploader().concurrency

    def upload_one(self, upload: Upload) -> int:
        return self._uploader().upload_one(upload)

    def copy_one(self, upload: Upload) -> int | None:
        return self._uploader().copy_one(upload)

    def upload_wave(
        self,
        uploads: Iterable[Upload],
        on_uploaded: Callable[[Upload, int], None] = lambda upload, size: None,
        *,
        retry_delays: Sequence[float] = (),
    ) -> list[UploadFailure]:
        return self._uploader().upload_wave(
            uploads, on_uploaded, retry_delays=retry_delays
        )
