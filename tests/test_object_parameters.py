"""Upload parameters: django-storages' rules, without machine-dependent types."""

from __future__ import annotations

import mimetypes

import pytest
from storages.backends.s3 import S3Storage

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.deploy.objects import guess_content_type

from .conftest import Deploy, S3Bucket, StaticSource

CONTENT_TYPES = [
    ("a.css", "text/css", None),
    ("a.js", "text/javascript", None),
    ("a.mjs", "text/javascript", None),
    ("a.js.map", "application/json", None),
    ("a.json", "application/json", None),
    ("a.svg", "image/svg+xml", None),
    ("a.png", "image/png", None),
    ("a.jpg", "image/jpeg", None),
    ("a.JPEG", "image/jpeg", None),
    ("a.gif", "image/gif", None),
    ("a.webp", "image/webp", None),
    ("a.avif", "image/avif", None),
    ("a.ico", "image/vnd.microsoft.icon", None),
    ("a.woff", "font/woff", None),
    ("a.woff2", "font/woff2", None),
    ("a.ttf", "font/ttf", None),
    ("a.otf", "font/otf", None),
    ("a.eot", "application/vnd.ms-fontobject", None),
    ("a.wasm", "application/wasm", None),
    ("a.txt", "text/plain", None),
    ("a.xml", "application/xml", None),
    ("a.html", "text/html", None),
    ("a.pdf", "application/pdf", None),
    ("a.mp4", "video/mp4", None),
    ("a.webm", "video/webm", None),
    ("a.css.gz", "text/css", "gzip"),
    ("a.123.js.br", "text/javascript", "br"),
]


@pytest.mark.parametrize(("name", "content_type", "encoding"), CONTENT_TYPES)
def test_content_types_do_not_depend_on_the_machine(
    name: str, content_type: str, encoding: str | None
) -> None:
    assert guess_content_type(name) == (content_type, encoding)


def test_the_table_wins_over_the_machine_s_mime_types(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As on a machine whose /etc/mime.types says otherwise.
    monkeypatch.setattr(
        mimetypes, "guess_type", lambda *args, **kwargs: ("application/x-odd", None)
    )
    for name, content_type, encoding in CONTENT_TYPES:
        assert guess_content_type(name) == (content_type, encoding)


def test_a_deploy_stores_the_table_s_types(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    types = {name: content_type for name, content_type, _ in CONTENT_TYPES}
    names = ["a.mjs", "a.js.map", "a.wasm", "a.avif", "a.woff", "a.ico", "a.webm"]
    for name in names:
        static_source.write(f"types/{name}", b"bytes of " + name.encode())

    storage = deploy()

    for name in names:
        for stored in (f"types/{name}", storage.hashed_files[f"types/{name}"]):
            assert s3.head(f"static/{stored}")["ContentType"] == types[name], stored


def test_unknown_extension_falls_back_to_the_default_type() -> None:
    storage = ManifestSyncS3Storage(bucket_name="b")
    parameters = storage.upload_parameters("static/file.unknownext", hashed=False)
    assert parameters["ContentType"] == "application/octet-stream"


# Names whose type Python's mimetypes gives the same on every platform, so
# django-storages' own computation is a fair reference.
PORTABLE_NAMES = [
    "static/a.css",
    "static/a.png",
    "static/a.json",
    "static/a.css.gz",
    "static/a.pdf",
]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"object_parameters": {"CacheControl": "max-age=60"}},
        {"default_acl": "public-read"},
        {
            "object_parameters": {"ContentType": "text/x-forced", "ACL": "private"},
            "default_acl": "public-read",
        },
    ],
)
def test_parameters_match_django_storages(options: dict[str, object]) -> None:
    # Without this package's Cache-Control defaults, the rest is the same.
    ours = ManifestSyncS3Storage(
        bucket_name="b",
        hashed_cache_control=None,
        unhashed_cache_control=None,
        **options,
    )
    stock = S3Storage(bucket_name="b", **options)
    for key in PORTABLE_NAMES:
        for hashed in (True, False):
            assert ours.upload_parameters(key, hashed=hashed) == (
                stock._get_write_parameters(key)
            ), key
