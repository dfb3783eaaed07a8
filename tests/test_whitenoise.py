"""whitenoise's CompressedManifestStaticFilesStorage as the local storage."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from .conftest import Deploy, S3Bucket, StaticSource

pytest.importorskip("whitenoise")

WHITENOISE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_compressed_variants_are_uploaded_with_the_original_type(
    s3: S3Bucket, deploy: Deploy
) -> None:
    storage = deploy(local_storage_class=WHITENOISE)

    hashed_css = f"static/{storage.hashed_files['css/site.css']}"
    css = s3.get(hashed_css)
    head = s3.head(f"{hashed_css}.gz")
    assert head["ContentType"] == "text/css"
    assert head["ContentEncoding"] == "gzip"
    assert gzip.decompress(s3.get(f"{hashed_css}.gz")) == css
    assert s3.head("static/css/site.css.gz")["ContentEncoding"] == "gzip"


def test_brotli_variants_are_uploaded_when_brotli_is_installed(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    brotli = pytest.importorskip("brotli")
    # whitenoise keeps a compressed variant only when it saves enough bytes.
    static_source.write("js/app.js", b'console.log("app");\n' * 200)
    storage = deploy(local_storage_class=WHITENOISE)

    hashed_js = f"static/{storage.hashed_files['js/app.js']}"
    head = s3.head(f"{hashed_js}.br")
    assert head["ContentType"] == "text/javascript"
    assert head["ContentEncoding"] == "br"
    assert brotli.decompress(s3.get(f"{hashed_js}.br")) == s3.get(hashed_js)


def test_compressed_variants_take_part_in_the_delta(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy(local_storage_class=WHITENOISE)
    s3.clear_log()
    static_source.touch_all()

    deploy(local_storage_class=WHITENOISE)
    assert s3.counts()["PUT"] == 0

    static_source.write("js/app.js", b'console.log("app v2");\n' * 200)
    storage = deploy(local_storage_class=WHITENOISE)

    hashed_js = storage.hashed_files["js/app.js"]
    uploaded = {key.removeprefix("static/") for key in s3.put_keys()}
    variants = {
        f"{name}{suffix}"
        for name in ("js/app.js", hashed_js)
        for suffix in ("", ".gz", ".br")
    }
    assert uploaded - {"staticfiles.json"} <= variants
    assert {"js/app.js", hashed_js, f"{hashed_js}.gz"} <= uploaded


def test_s3_and_plain_whitenoise_produce_the_same_files(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    tmp_path: Path,
    reference_collection: Callable[[], dict[str, bytes]],
) -> None:
    """An environment serving with whitenoise and one serving from S3 render
    the same hashed names, and S3 holds what whitenoise would serve."""
    static_source.write("js/app.js", b'console.log("app");\n' * 200)
    storage = deploy(local_storage_class=WHITENOISE)

    static_root = tmp_path / "static_root"
    with override_settings(
        STATICFILES_DIRS=[str(static_source.root)],
        STATIC_ROOT=str(static_root),
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": WHITENOISE},
        },
    ):
        call_command("collectstatic", interactive=False, verbosity=0)

    served = json.loads((static_root / "staticfiles.json").read_bytes())
    assert served["paths"] == storage.hashed_files
    assert served["paths"]["js/app.js"] != "js/app.js"
    # Django's own manifest storage hashes the same way: whitenoise compresses
    # after hashing.
    django_manifest = json.loads(reference_collection()["staticfiles.json"])
    assert django_manifest["paths"] == served["paths"]
    files = [path for path in static_root.rglob("*") if path.is_file()]
    assert any(path.name.endswith(".js.gz") for path in files)
    for path in files:
        name = path.relative_to(static_root).as_posix()
        if name != "staticfiles.json":
            assert s3.get(f"static/{name}") == path.read_bytes(), name
