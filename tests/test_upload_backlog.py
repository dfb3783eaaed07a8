"""Memory holds the uploads in flight, not one per file: a wave is read as it
goes, uploads made while hashing wait for room, and the settings of objects
that share them are kept once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.deploy.objects import ObjectSettings
from django_s3_manifest_storage.upload.background import BackgroundUploads
from django_s3_manifest_storage.upload.engines import make_uploader
from django_s3_manifest_storage.upload.uploader import (
    IN_POOL_PER_THREAD,
    Upload,
    Uploader,
)

from .conftest import Deploy, S3Bucket

CONCURRENCY = 4
FILES = 60


@pytest.fixture
def slow(s3: S3Bucket) -> Iterator[None]:
    """Every request takes 50 ms: without a bound, the whole list would be
    queued long before the first upload ends."""
    server = s3.bundled_server
    server.delay_seconds = 0.05
    try:
        yield
    finally:
        server.delay_seconds = 0.0


def uploader_for(s3: S3Bucket) -> Uploader:
    storage = ManifestSyncS3Storage(**s3.options(upload_concurrency=CONCURRENCY))
    return make_uploader(storage)


def staged_uploads(directory: Path) -> list[Upload]:
    uploads = []
    for number in range(FILES):
        path = directory / f"file{number}.txt"
        path.write_bytes(f"file {number}\n".encode())
        uploads.append(
            Upload(
                name=path.name,
                path=path,
                key=f"static/backlog/{path.name}",
                parameters={"ContentType": "text/plain"},
                gzip=False,
            )
        )
    return uploads


def test_a_wave_reads_its_uploads_only_as_the_pool_has_room(
    s3: S3Bucket, slow: None, tmp_path: Path
) -> None:
    uploads = staged_uploads(tmp_path)
    uploader = uploader_for(s3)
    pulled = done = most_outstanding = 0

    def as_they_go() -> Iterator[Upload]:
        nonlocal pulled, most_outstanding
        for upload in uploads:
            pulled += 1
            most_outstanding = max(most_outstanding, pulled - done)
            yield upload

    def count(upload: Upload, size: int) -> None:
        nonlocal done
        done += 1

    failures = uploader.upload_wave(as_they_go(), count)

    assert failures == []
    assert done == FILES
    # The one just read comes on top of a full pool.
    assert most_outstanding <= CONCURRENCY * IN_POOL_PER_THREAD + 1
    assert sorted(s3.put_keys()) == sorted(upload.key for upload in uploads)
    assert s3.get("static/backlog/file7.txt") == b"file 7\n"


def test_uploads_made_while_hashing_wait_for_room_in_the_pool(
    s3: S3Bucket, slow: None, tmp_path: Path
) -> None:
    uploads = staged_uploads(tmp_path)
    uploader = uploader_for(s3)
    background = BackgroundUploads(uploader)
    most_outstanding = 0
    for submitted, upload in enumerate(uploads, start=1):
        background.submit(upload)
        recorded = len(background.sent) + len(background.failures)
        most_outstanding = max(most_outstanding, submitted - recorded)
    sent, failures = background.finish()

    assert failures == []
    assert most_outstanding <= CONCURRENCY * IN_POOL_PER_THREAD
    assert sent == {upload.name: upload.path.stat().st_size for upload in uploads}
    assert sorted(s3.put_keys()) == sorted(upload.key for upload in uploads)


def test_a_run_leaves_no_upload_thread_behind(s3: S3Bucket, deploy: Deploy) -> None:
    deploy(upload_concurrency=CONCURRENCY)

    assert s3.counts()["PUT"] > 0
    left = [
        thread.name
        for thread in threading.enumerate()
        if thread.name.startswith(("s3-upload", "s3-early-upload"))
    ]
    assert left == []


class PerNameMetadata(ManifestSyncS3Storage):
    """A user's subclass whose parameters differ for one name."""

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        parameters: dict[str, Any] = super().get_object_parameters(name)
        if name.endswith("special.css"):
            parameters["Metadata"] = {"owner": "design"}
        return parameters


def test_objects_with_equal_settings_share_one_copy_and_others_keep_theirs(
    s3: S3Bucket,
) -> None:
    settings = ObjectSettings(PerNameMetadata(**s3.options()))

    first = settings.stored("css/a.css", hashed=False)
    second = settings.stored("css/b.css", hashed=False)
    special = settings.stored("css/special.css", hashed=False)

    # One parameter set for both names: nothing is kept per name but a
    # reference to it.
    assert first is second
    assert special is not first
    assert settings.parameter_set("css/a.css", False) == first.key
    assert special.key != first.key
    assert special.parameters["Metadata"] == {"owner": "design"}
    assert "Metadata" not in first.parameters
    assert settings.stored("css/a.css", hashed=True).parameters != first.parameters
