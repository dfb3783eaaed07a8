"""The client settings S3-compatible stores (R2, MinIO, Spaces, B2, GCS) need:
path-style addressing and checksums only when an operation requires them."""

from __future__ import annotations

from typing import Any

import botocore
import pytest
from botocore.config import Config

from django_s3_manifest_storage import ManifestSyncS3Storage

from .conftest import EXTERNAL_ENDPOINT, Deploy, S3Bucket, StaticSource

# botocore 1.36 started sending checksums on every upload, and added the
# settings that turn that off.
CHECKSUM_SETTINGS = tuple(int(part) for part in botocore.__version__.split(".")[:2])
needs_checksum_settings = pytest.mark.skipif(
    CHECKSUM_SETTINGS < (1, 36), reason="botocore < 1.36 sends no default checksums"
)


def compatible_config(checksums: str) -> Config:
    return Config(
        s3={"addressing_style": "path"},
        request_checksum_calculation=checksums,
        response_checksum_validation=checksums,
    )


def stored_checksums(s3: S3Bucket, key: str) -> dict[str, Any]:
    head = s3.client.head_object(Bucket=s3.name, Key=key, ChecksumMode="ENABLED")
    return {name: value for name, value in head.items() if "Checksum" in name}


# Whether a store keeps and returns checksums differs from store to store;
# the bundled server keeps what the client sends, which is what is checked.
needs_bundled_server = pytest.mark.skipif(
    EXTERNAL_ENDPOINT is not None,
    reason="what an external store keeps of upload checksums is its own",
)


@needs_checksum_settings
@needs_bundled_server
def test_uploads_carry_no_checksum_when_only_required(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    storage = deploy(client_config=compatible_config("when_required"))

    hashed_css = f"static/{storage.hashed_files['css/site.css']}"
    for key in (hashed_css, "static/css/site.css", "static/staticfiles.json"):
        assert stored_checksums(s3, key) == {}, key
    # The storage widened the pool without dropping the user's settings.
    assert storage.client_config.request_checksum_calculation == "when_required"
    assert storage.client_config.max_pool_connections >= 16

    s3.clear_log()
    static_source.touch_all()
    deploy(client_config=compatible_config("when_required"))
    assert s3.counts()["PUT"] == 0


@needs_checksum_settings
@needs_bundled_server
def test_uploads_carry_a_checksum_when_supported(s3: S3Bucket, deploy: Deploy) -> None:
    # The contrast that shows the setting above is what removed them.
    deploy(client_config=compatible_config("when_supported"))

    assert stored_checksums(s3, "static/css/site.css")


# A hostname endpoint: on an IP address botocore always uses path style.
R2_LIKE_ENDPOINT = "https://account-id.r2.cloudflarestorage.com"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"addressing_style": "path"}, f"{R2_LIKE_ENDPOINT}/bucket/static/a.css"),
        ({"addressing_style": "virtual"}, "https://bucket.account-id.r2."),
        (
            {"client_config": Config(s3={"addressing_style": "path"})},
            f"{R2_LIKE_ENDPOINT}/bucket/static/a.css",
        ),
        (
            {"client_config": Config(s3={"addressing_style": "virtual"})},
            "https://bucket.account-id.r2.",
        ),
    ],
    ids=["option-path", "option-virtual", "config-path", "config-virtual"],
)
def test_the_addressing_style_reaches_the_uploading_client(
    options: dict[str, Any], expected: str
) -> None:
    storage = ManifestSyncS3Storage(
        bucket_name="bucket",
        endpoint_url=R2_LIKE_ENDPOINT,
        access_key="key",
        secret_key="secret",
        region_name="auto",
        **options,
    )
    url = storage.s3_client.generate_presigned_url(
        "put_object", Params={"Bucket": "bucket", "Key": "static/a.css"}
    )
    assert url.startswith(expected)
