"""What each uploaded object carries, and how the uploads are made."""

from __future__ import annotations

import gzip
import logging
import re
from typing import Any

import pytest

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.testing.s3_server import Rendezvous

from .conftest import Deploy, S3Bucket, StaticSource

HASHED_NAME = re.compile(r"\.[0-9a-f]{12}\.[^/]+$")


class LongCacheForHashedFiles(ManifestSyncS3Storage):
    """A user's subclass: per-name parameters through the documented hook."""

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        parameters: dict[str, Any] = super().get_object_parameters(name)
        # Not the package defaults, so the test tells the hook was used.
        if HASHED_NAME.search(name):
            parameters["CacheControl"] = "public, max-age=86400"
        else:
            parameters["CacheControl"] = "max-age=30"
        return parameters


def test_subclass_get_object_parameters_changes_what_is_uploaded(
    s3: S3Bucket, deploy: Deploy
) -> None:
    storage = deploy(backend=f"{__name__}.LongCacheForHashedFiles")

    hashed = storage.hashed_files["css/site.css"]
    assert s3.head(f"static/{hashed}")["CacheControl"] == "public, max-age=86400"
    assert s3.head("static/css/site.css")["CacheControl"] == "max-age=30"
    assert s3.head("static/staticfiles.json")["CacheControl"] == "max-age=30"


def test_object_parameters_content_type_and_acl_reach_s3(
    s3: S3Bucket, deploy: Deploy
) -> None:
    storage = deploy(
        object_parameters={"CacheControl": "max-age=60", "Metadata": {"release": "7"}},
        default_acl="public-read",
    )

    hashed_css = f"static/{storage.hashed_files['css/site.css']}"
    head = s3.head(hashed_css)
    assert head["ContentType"] == "text/css"
    assert head["CacheControl"] == "max-age=60"
    assert head["Metadata"] == {"release": "7"}
    assert s3.head("static/img/bg.png")["ContentType"] == "image/png"
    assert s3.head("static/fonts/icons.woff2")["ContentType"] == "font/woff2"
    assert s3.head("static/staticfiles.json")["ContentType"] == "application/json"
    grants = s3.client.get_object_acl(Bucket=s3.name, Key=hashed_css)["Grants"]
    assert any(
        grant["Grantee"].get("URI", "").endswith("/global/AllUsers")
        and grant["Permission"] == "READ"
        for grant in grants
    )


def test_nothing_is_public_without_an_acl(s3: S3Bucket, deploy: Deploy) -> None:
    deploy()
    grants = s3.client.get_object_acl(Bucket=s3.name, Key="static/css/site.css")[
        "Grants"
    ]
    assert not any("AllUsers" in grant["Grantee"].get("URI", "") for grant in grants)


def test_gzip_option_stores_compressed_bytes_deterministically(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource, reference_collection
) -> None:
    deploy(gzip=True)

    reference = reference_collection()
    for name in ("css/site.css", "js/app.js"):
        head = s3.head(f"static/{name}")
        assert head["ContentEncoding"] == "gzip"
        assert gzip.decompress(s3.get(f"static/{name}")) == reference[name]
    assert "ContentEncoding" not in s3.head("static/img/bg.png")
    assert s3.get("static/img/bg.png") == reference["img/bg.png"]

    s3.clear_log()
    static_source.touch_all()
    deploy(gzip=True)
    assert s3.counts()["PUT"] == 0


def test_uploads_run_concurrently_on_a_pool_that_fits(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for number in range(60):
        static_source.write(f"many/file{number}.txt", f"file {number}\n".encode())
    server = s3.bundled_server
    # The server holds the first 16 PUTs until all 16 are in flight at once:
    # the count does not depend on how fast this machine is.
    meeting = server.add_rendezvous(
        Rendezvous("PUT", key_pattern=r"/many/", parties=16, timeout_seconds=60)
    )
    with caplog.at_level(logging.WARNING):
        deploy(upload_concurrency=16)

    assert meeting.met
    assert server.max_in_flight_by_method["PUT"] == 16
    assert not [
        r for r in caplog.records if "Connection pool is full" in r.getMessage()
    ]


def test_uploads_never_exceed_the_configured_concurrency(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    for number in range(30):
        static_source.write(f"many/file{number}.txt", f"file {number}\n".encode())
    server = s3.bundled_server
    # Four uploads meet at the server, and a fifth is never in flight.
    meeting = server.add_rendezvous(
        Rendezvous("PUT", key_pattern=r"/many/", parties=4, timeout_seconds=60)
    )

    deploy(upload_concurrency=4)

    assert meeting.met
    assert server.max_in_flight_by_method["PUT"] == 4
    assert set(s3.put_keys()) >= {f"static/many/file{n}.txt" for n in range(30)}


def test_a_large_file_is_uploaded_in_parts_and_skipped_when_unchanged(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    from boto3.s3.transfer import TransferConfig

    big = bytes(range(256)) * (24 * 1024)  # 6 MiB
    static_source.write("video/big.bin", big)
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024)
    storage = deploy(transfer_config=config)

    assert s3.get("static/video/big.bin") == big
    assert s3.get(f"static/{storage.hashed_files['video/big.bin']}") == big
    assert s3.counts()["POST"] >= 2  # create and complete a multipart upload

    s3.clear_log()
    static_source.touch_all()
    deploy(transfer_config=config)
    assert s3.counts()["PUT"] == 0


def test_cache_control_defaults_split_hashed_and_unhashed(
    s3: S3Bucket, deploy: Deploy
) -> None:
    storage = deploy()

    hashed = f"static/{storage.hashed_files['css/site.css']}"
    assert s3.head(hashed)["CacheControl"] == "public, max-age=31536000, immutable"
    assert s3.head("static/css/site.css")["CacheControl"] == "no-cache"
    assert s3.head("static/staticfiles.json")["CacheControl"] == "no-cache"
