"""Awkward local input: each works, or fails with a message naming the file."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig
from django.core.management import CommandError

from django_s3_manifest_storage.errors import PublishError
from django_s3_manifest_storage.testing.s3_server import Fault

from .conftest import Deploy, S3Bucket, StaticSource

MANIFEST_KEY = "static/staticfiles.json"


def under_location(collection: dict[str, bytes]) -> dict[str, bytes]:
    return {f"static/{name}": body for name, body in collection.items()}


AWKWARD_NAMES = [
    "names/with space.txt",
    "names/ünïcödé ✓.txt",
    "names/hash#tag.txt",
    "names/what?.txt",
    "names/per%20cent.txt",
    "names/plus+sign.txt",
    "names/semi;colon&amp=1.txt",
]


def test_awkward_names_are_keys_exactly_as_named(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    reference_collection: Callable[[], dict[str, bytes]],
) -> None:
    for name in AWKWARD_NAMES:
        static_source.write(name, f"content of {name}".encode())
    static_source.write("names/empty.txt", b"")

    deploy()

    # Byte for byte what Django's ManifestStaticFilesStorage writes locally,
    # under the very same names (Django gives "#", "?" and "%" odd hashed
    # names; they are kept, not re-encoded).
    expected = under_location(reference_collection())
    assert s3.objects() == expected
    for name in [*AWKWARD_NAMES, "names/empty.txt"]:
        assert f"static/{name}" in expected
    assert s3.head("static/names/empty.txt")["ContentLength"] == 0

    s3.clear_log()
    deploy(skip_unchanged=False)  # compares manifests name by name
    assert s3.counts()["PUT"] == 0


@pytest.fixture
def big_source_file(static_source: StaticSource) -> Iterator[Path]:
    """A sparse 101 MiB file: instant to make, no disk blocks; removed after."""
    path = static_source.root / "video" / "big.bin"
    path.parent.mkdir(parents=True)
    with path.open("wb") as sparse:
        sparse.truncate(101 * 1024 * 1024)
        sparse.seek(-5, os.SEEK_END)
        sparse.write(b"v1end")
    yield path
    path.unlink(missing_ok=True)


def test_a_file_over_100_mb_goes_in_parts_and_is_not_uploaded_again(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource, big_source_file: Path
) -> None:
    storage = deploy()

    hashed_key = f"static/{storage.hashed_files['video/big.bin']}"
    size = big_source_file.stat().st_size
    for key in (hashed_key, "static/video/big.bin"):
        head = s3.head(key)
        assert head["ContentLength"] == size
        assert head["ETag"].strip('"').endswith(f"-{-(-size // (8 * 1024 * 1024))}")
    tail = s3.client.get_object(Bucket=s3.name, Key=hashed_key, Range="bytes=-5")
    assert tail["Body"].read() == b"v1end"

    # Another file changes: the big one is not uploaded again...
    static_source.write("css/plain.css", b"p { margin: 3em; }\n")
    s3.clear_log()
    deploy()
    assert not [key for key in s3.put_keys() if "big" in key]
    assert sum(request.content_length for request in s3.bundled_server.requests) < (
        1024 * 1024
    )

    # ...and with nothing changed, nothing is.
    s3.clear_log()
    static_source.touch_all()
    deploy()
    assert s3.counts()["PUT"] == 0


def test_failed_multipart_upload_names_the_file_and_the_s3_error(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    static_source.write("video/clip.bin", bytes(range(256)) * (24 * 1024))  # 6 MiB
    s3.add_fault(Fault("PUT", r"video/clip\.[0-9a-f]{12}\.bin$"))

    with pytest.raises(PublishError) as failure:
        deploy(transfer_config=TransferConfig(multipart_threshold=5 * 1024 * 1024))

    message = str(failure.value)
    assert "video/clip." in message
    assert "InternalError (HTTP 500)" in message
    assert not any(key.endswith("staticfiles.json") for key in s3.objects())


def test_a_symlinked_source_directory_is_followed(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    reference_collection: Callable[[], dict[str, bytes]],
    tmp_path: Path,
) -> None:
    vendor = tmp_path / "elsewhere" / "vendor"
    vendor.mkdir(parents=True)
    (vendor / "lib.js").write_bytes(b"lib v1\n")
    (static_source.root / "vendor").symlink_to(vendor, target_is_directory=True)

    storage = deploy()

    assert s3.objects() == under_location(reference_collection())
    assert s3.get(f"static/{storage.hashed_files['vendor/lib.js']}") == b"lib v1\n"

    # A change behind the link is seen.
    (vendor / "lib.js").write_bytes(b"lib v2\n")
    storage = deploy()
    assert s3.get(f"static/{storage.hashed_files['vendor/lib.js']}") == b"lib v2\n"


@pytest.mark.parametrize(
    ("name", "content", "error", "named"),
    [
        (
            "css/broken.css",
            b'body { background: url("../img/missing.png"); }\n',
            ValueError,
            "img/missing.png",
        ),
        (
            "css/latin1.css",
            b"body::after { content: '\xe9t\xe9'; }\n",
            UnicodeDecodeError,
            None,
        ),
    ],
    ids=["css referencing a missing file", "non-utf-8 css"],
)
def test_css_that_cannot_be_hashed_fails_naming_it_and_uploads_nothing(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes,
    error: type[Exception],
    named: str | None,
) -> None:
    deploy()
    old_manifest = s3.get(MANIFEST_KEY)
    static_source.write(name, content)
    s3.clear_log()

    # Django 6.1 wraps the error in a CommandError; earlier versions raise it.
    with pytest.raises((error, CommandError)) as failure:
        deploy()

    # Django's own report: the command names the file, the error what is wrong.
    assert f"Post-processing '{name}' failed!" in capsys.readouterr().err
    assert isinstance(failure.value, error) or isinstance(
        failure.value.__cause__, error
    )
    if named:
        assert named in str(failure.value)
    assert s3.counts()["PUT"] == 0
    assert s3.get(MANIFEST_KEY) == old_manifest
    assert name not in json.loads(old_manifest)["paths"]
