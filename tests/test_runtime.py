"""Run time: hashed URLs from the manifest, identical to S3ManifestStaticStorage."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.template import engines
from django.test import override_settings
from storages.backends.s3 import S3ManifestStaticStorage

from django_s3_manifest_storage import ManifestSyncS3Storage

from .conftest import BACKEND, Deploy, S3Bucket

TEMPLATE = '{% load static %}{% static "css/site.css" %}'


def render_with(s3: S3Bucket, staging_dir: Path | None, **options: object) -> str:
    if staging_dir is not None:
        options["staging_dir"] = str(staging_dir)
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": BACKEND, "OPTIONS": s3.options(**options)},
    }
    with override_settings(STORAGES=storages):
        return engines["django"].from_string(TEMPLATE).render({})


def test_static_tag_uses_the_local_manifest_without_s3(
    s3: S3Bucket, deploy: Deploy, tmp_path: Path
) -> None:
    staging_dir = tmp_path / "staging_dir"
    storage = deploy(staging_dir=staging_dir)
    hashed = storage.hashed_files["css/site.css"]
    s3.clear_log()

    url = render_with(s3, staging_dir)

    assert url.endswith(f"/static/{hashed}")
    assert hashed != "css/site.css"
    assert s3.counts() == {}


def test_static_tag_reads_the_manifest_from_s3_once(
    s3: S3Bucket, deploy: Deploy, tmp_path: Path
) -> None:
    hashed = deploy().hashed_files["css/site.css"]
    s3.clear_log()
    empty_root = tmp_path / "web_server_without_collected_files"

    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": BACKEND, "OPTIONS": s3.options()},
    }
    with override_settings(STATIC_ROOT=str(empty_root), STORAGES=storages):
        template = engines["django"].from_string(TEMPLATE)
        urls = {template.render({}) for _ in range(3)}
        assert staticfiles_storage.url("js/app.js").endswith(".js")

    assert len(urls) == 1
    assert urls.pop().endswith(f"/static/{hashed}")
    assert s3.counts() == {"GET": 1}


def test_a_missing_manifest_entry_raises_like_django(
    s3: S3Bucket, deploy: Deploy
) -> None:
    storage = deploy()
    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        storage.url("css/not-collected.css")


SAMPLE_NAMES = [
    "css/site.css",
    "img/bg.png",
    "fonts/icons.woff2",
    "fonts/icons.woff2?#iefix",
    "css/site.css#section",
    "js/app.js?v=1",
    "data/config.json",
]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"location": ""},
        {"location": "assets/static"},
        {"custom_domain": "cdn.example.com"},
        {"custom_domain": "cdn.example.com", "url_protocol": "http:"},
        {"addressing_style": "path"},
    ],
    ids=["default", "no-location", "nested-location", "custom-domain", "http", "path"],
)
def test_urls_equal_s3_manifest_static_storage(
    s3: S3Bucket, deploy: Deploy, options: dict[str, str]
) -> None:
    deploy(**options)
    with override_settings(STATIC_ROOT=None):
        ours = ManifestSyncS3Storage(**s3.options(**options))
        stock = S3ManifestStaticStorage(**s3.stock_options(**options))
        for name in SAMPLE_NAMES:
            assert ours.url(name) == stock.url(name), name
        with override_settings(DEBUG=True):
            assert ours.url("css/site.css") == stock.url("css/site.css")
