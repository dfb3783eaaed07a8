"""Cache-Control as S3 stores it: long for hashed names, short for the rest,
the user's choice over both, and never stale after the policy changes."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from django_s3_manifest_storage import ManifestSyncS3Storage

from .conftest import Deploy, S3Bucket, StaticSource

IMMUTABLE = "public, max-age=31536000, immutable"
MANIFEST_KEY = "static/staticfiles.json"
WHITENOISE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
# Long enough for whitenoise to keep both compressed variants.
COMPRESSIBLE_JS = b'console.log("app");\n' * 200


def cache_control(s3: S3Bucket, key: str) -> str | None:
    value: str | None = s3.head(key).get("CacheControl")
    return value


def test_compressed_variants_share_their_original_s_policy(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    pytest.importorskip("whitenoise")
    pytest.importorskip("brotli")
    static_source.write("js/app.js", COMPRESSIBLE_JS)

    storage = deploy(local_storage_class=WHITENOISE)

    hashed = f"static/{storage.hashed_files['js/app.js']}"
    for suffix in (".gz", ".br"):
        assert cache_control(s3, hashed + suffix) == IMMUTABLE
        assert cache_control(s3, f"static/js/app.js{suffix}") == "no-cache"
    assert cache_control(s3, MANIFEST_KEY) == "no-cache"


def test_object_parameters_cache_control_wins_everywhere(
    s3: S3Bucket, deploy: Deploy
) -> None:
    storage = deploy(object_parameters={"CacheControl": "public, max-age=300"})

    hashed = f"static/{storage.hashed_files['css/site.css']}"
    for key in (hashed, "static/css/site.css", MANIFEST_KEY):
        assert cache_control(s3, key) == "public, max-age=300", key


def test_aws_s3_object_parameters_setting_wins(s3: S3Bucket, deploy: Deploy) -> None:
    with override_settings(
        AWS_S3_OBJECT_PARAMETERS={"CacheControl": "private, max-age=5"}
    ):
        storage = deploy()

    hashed = f"static/{storage.hashed_files['js/app.js']}"
    assert cache_control(s3, hashed) == "private, max-age=5"
    assert cache_control(s3, "static/js/app.js") == "private, max-age=5"


class ShortCacheForStylesheets(ManifestSyncS3Storage):
    """A user's subclass: unhashed stylesheets may be a minute stale."""

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        parameters: dict[str, Any] = super().get_object_parameters(name)
        if name.startswith("static/css/") and name.count(".") == 1:
            parameters["CacheControl"] = "public, max-age=60"
        return parameters


def test_a_subclass_decides_per_name(s3: S3Bucket, deploy: Deploy) -> None:
    storage = deploy(backend=f"{__name__}.ShortCacheForStylesheets")

    assert cache_control(s3, "static/css/site.css") == "public, max-age=60"
    assert cache_control(s3, "static/js/app.js") == "no-cache"
    hashed_css = f"static/{storage.hashed_files['css/site.css']}"
    assert cache_control(s3, hashed_css) == IMMUTABLE


def test_a_changed_hashed_policy_reaches_unchanged_objects(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    storage = deploy()
    hashed_keys = [f"static/{name}" for name in storage.hashed_files.values()]
    static_source.touch_all()

    deploy(hashed_cache_control="public, max-age=86400")

    for key in hashed_keys:
        assert cache_control(s3, key) == "public, max-age=86400", key
    assert cache_control(s3, "static/css/site.css") == "no-cache"
    assert cache_control(s3, MANIFEST_KEY) == "no-cache"

    s3.clear_log()
    deploy(hashed_cache_control="public, max-age=86400")
    assert s3.counts()["PUT"] == 0


def test_a_changed_unhashed_policy_reaches_unchanged_objects(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    storage = deploy()
    originals = [f"static/{name}" for name in storage.hashed_files]
    static_source.touch_all()

    deploy(unhashed_cache_control="max-age=60, must-revalidate")

    for key in [*originals, MANIFEST_KEY]:
        assert cache_control(s3, key) == "max-age=60, must-revalidate", key
    hashed_css = f"static/{storage.hashed_files['css/site.css']}"
    assert cache_control(s3, hashed_css) == IMMUTABLE


def test_a_policy_of_none_removes_the_header(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    storage = deploy()
    static_source.touch_all()

    deploy(unhashed_cache_control=None)

    assert cache_control(s3, "static/css/site.css") is None
    assert cache_control(s3, MANIFEST_KEY) is None
    hashed_css = f"static/{storage.hashed_files['css/site.css']}"
    assert cache_control(s3, hashed_css) == IMMUTABLE
