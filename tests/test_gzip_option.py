"""django-storages' ``gzip`` option: compressible types stored gzip-encoded
under their usual key, byte-exact and reproducible."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable

import pytest
from django.test import override_settings

from django_s3_manifest_storage import ManifestSyncS3Storage

from .conftest import Deploy, S3Bucket, StaticSource

# Every type the issue names as compressible, with the Content-Type stored.
COMPRESSIBLE = {
    "text/site.css": "text/css",
    "text/app.js": "text/javascript",
    "text/module.mjs": "text/javascript",
    "text/icon.svg": "image/svg+xml",
    "text/data.json": "application/json",
    "text/app.js.map": "application/json",
    "text/robots.txt": "text/plain",
    "text/feed.xml": "application/xml",
    "text/page.html": "text/html",
    "text/module.wasm": "application/wasm",
}
INCOMPRESSIBLE = ("img/bg.png", "fonts/icons.woff2")


def write_compressible_sources(static_source: StaticSource) -> None:
    for name in COMPRESSIBLE:
        static_source.write(name, f"/* {name} */\n".encode() * 50)


def test_compressible_types_are_stored_gzipped_and_decompress_exactly(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    reference_collection: Callable[[], dict[str, bytes]],
) -> None:
    write_compressible_sources(static_source)

    storage = deploy(gzip=True)

    reference = reference_collection()
    for name, content_type in COMPRESSIBLE.items():
        for stored_name in (name, storage.hashed_files[name]):
            head = s3.head(f"static/{stored_name}")
            assert head["ContentType"] == content_type, stored_name
            assert head["ContentEncoding"] == "gzip", stored_name
            stored = s3.get(f"static/{stored_name}")
            assert gzip.decompress(stored) == reference[stored_name]
    for name in INCOMPRESSIBLE:
        assert "ContentEncoding" not in s3.head(f"static/{name}")
        assert s3.get(f"static/{name}") == reference[name]


def test_gzipped_bytes_are_reproducible(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    write_compressible_sources(static_source)
    deploy(gzip=True)
    etags = {key: s3.head(key)["ETag"] for key in s3.objects("static/text/")}
    static_source.touch_all()

    # A new Cache-Control re-uploads every object, compressing it again.
    deploy(gzip=True, unhashed_cache_control="max-age=60")

    assert s3.head("static/text/site.css")["CacheControl"] == "max-age=60"
    assert {key: s3.head(key)["ETag"] for key in etags} == etags


def test_whitenoise_variants_are_not_compressed_twice(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    pytest.importorskip("whitenoise")
    static_source.write("js/app.js", b'console.log("app");\n' * 200)

    storage = deploy(
        gzip=True,
        local_storage_class="whitenoise.storage.CompressedManifestStaticFilesStorage",
    )

    hashed_js = f"static/{storage.hashed_files['js/app.js']}"
    assert gzip.decompress(s3.get(f"{hashed_js}.gz")) == gzip.decompress(
        s3.get(hashed_js)
    )


def test_default_types_cover_text_formats() -> None:
    storage = ManifestSyncS3Storage(bucket_name="b", gzip=True)
    assert set(COMPRESSIBLE.values()) <= set(storage.gzip_content_types)
    assert "image/png" not in storage.gzip_content_types


def test_the_user_s_content_types_win() -> None:
    with override_settings(GZIP_CONTENT_TYPES=("text/css",)):
        assert ManifestSyncS3Storage(bucket_name="b").gzip_content_types == (
            "text/css",
        )
    storage = ManifestSyncS3Storage(bucket_name="b", gzip_content_types=("a/b",))
    assert storage.gzip_content_types == ("a/b",)


def test_a_gzipped_manifest_is_read_back(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    hashed = deploy(gzip=True).hashed_files["data/config.json"]
    assert s3.head("static/staticfiles.json")["ContentEncoding"] == "gzip"

    fresh = ManifestSyncS3Storage(**s3.options(gzip=True))
    assert fresh.url("data/config.json").endswith(f"/static/{hashed}")

    s3.clear_log()
    static_source.touch_all()
    assert deploy(gzip=True).last_publish.reused_deployed is True
    assert s3.counts()["PUT"] == 0


def test_a_manifest_stored_gzip_encoded_but_not_gzip_is_not_trusted(
    s3: S3Bucket,
    deploy: Deploy,
    reference_collection: Callable[[], dict[str, bytes]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Says gzip, holds something else: the bytes go to the manifest parser
    # as they are, which rejects them, and the deploy starts from nothing.
    s3.client.put_object(
        Bucket=s3.name,
        Key="static/staticfiles.json",
        Body=b"not gzip, not json",
        ContentEncoding="gzip",
    )

    with caplog.at_level(logging.WARNING, "django_s3_manifest_storage"):
        deploy()

    expected = {f"static/{name}": body for name, body in reference_collection().items()}
    assert s3.objects() == expected
    assert any("unusable" in record.getMessage() for record in caplog.records)
