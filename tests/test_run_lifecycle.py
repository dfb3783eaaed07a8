"""Each object sent once and for a stated reason; a run cleans up after
itself; throttling is ridden out and what will not heal fails fast."""

from __future__ import annotations

import gc
import io
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from botocore.config import Config
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.management import call_command
from django.test import override_settings

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.collect.hashing import collection_context
from django_s3_manifest_storage.collect.staging import TEMPORARY_PREFIX
from django_s3_manifest_storage.errors import PublishError
from django_s3_manifest_storage.planning.stamp import context_changes
from django_s3_manifest_storage.testing.s3_server import Fault

from .conftest import BACKEND, Deploy, S3Bucket, StaticSource, saves_failing_at

WHITENOISE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
IMMUTABLE = "public, max-age=31536000, immutable"


def test_whitenoise_variants_are_sent_once_with_their_file_s_policy(
    s3: S3Bucket, deploy: Deploy, compressible_source: StaticSource
) -> None:
    storage = deploy(local_storage_class=WHITENOISE)

    puts = Counter(s3.put_keys())
    assert max(puts.values()) == 1
    assert len(puts) == len(storage.last_publish.uploaded) == len(s3.object_keys())
    hashed_svg = storage.hashed_files["img/logo.svg"]
    assert s3.head("static/img/logo.svg.gz")["CacheControl"] == "no-cache"
    assert s3.head(f"static/{hashed_svg}.gz")["CacheControl"] == IMMUTABLE

    # One CSS file changes: it, its variants and what references it go again.
    compressible_source.write(
        "css/plain.css", b"p { margin: 2em; }\n" + b"/* compressible */\n" * 40
    )
    s3.clear_log()
    storage = deploy(local_storage_class=WHITENOISE)

    puts = Counter(s3.put_keys())
    assert max(puts.values()) == 1
    assert set(puts) == {f"static/{name}" for name in storage.last_publish.uploaded}
    hashed_plain = storage.hashed_files["css/plain.css"]
    stored = set(s3.object_keys())
    assert f"static/{hashed_plain}.gz" in stored
    assert {key.removeprefix("static/") for key in puts} == {
        "staticfiles.json",
        *(
            base + suffix
            for base in ("css/plain.css", hashed_plain)
            for suffix in ("", ".gz", ".br")
            if f"static/{base}{suffix}" in stored
        ),
    }


def test_a_full_upload_says_why(s3: S3Bucket, deploy: Deploy) -> None:
    deploy()
    output = io.StringIO()

    storage = deploy(
        hashed_cache_control="public, max-age=60",
        command_options={"verbosity": 1, "stdout": output},
    )

    assert storage.last_publish.unchanged == 0
    assert "upload parameters changed: CacheControl" in output.getvalue()


def test_context_names_what_changed_and_ignores_unused_whitenoise() -> None:
    plain = collection_context(ManifestStaticFilesStorage, {})
    with override_settings(WHITENOISE_KEEP_ONLY_HASHED_FILES=True):
        assert collection_context(ManifestStaticFilesStorage, {}) == plain
    assert "whitenoise" not in plain
    newer = {**plain, "django": "99.0"}
    assert context_changes(plain, newer) == [f"Django {plain['django']} -> 99.0"]
    assert context_changes(plain, {**plain, "hashing": "other"}) == [
        "the local storage class, its options or its hashing settings changed"
    ]


@pytest.fixture
def private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "tmpdir"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def test_a_failed_deploy_leaves_no_staging_directory(
    s3: S3Bucket, deploy: Deploy, private_tmpdir: Path
) -> None:
    s3.add_fault(Fault("PUT", r"img/logo\.png$", status=403, code="AccessDenied"))

    with pytest.raises(PublishError):
        deploy()

    assert not list(private_tmpdir.glob(f"{TEMPORARY_PREFIX}*"))


def test_collectstatic_failing_before_post_process_leaves_nothing(
    s3: S3Bucket, static_source: StaticSource, private_tmpdir: Path
) -> None:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": BACKEND, "OPTIONS": s3.options()},
    }
    failing_save = saves_failing_at(3)

    with (
        override_settings(
            STATICFILES_DIRS=[str(static_source.root)],
            STATIC_ROOT=None,
            STORAGES=storages,
        ),
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(ManifestSyncS3Storage, "save", failing_save)
        with pytest.raises(ValueError, match="interrupted"):
            call_command("collectstatic", interactive=False, verbosity=0)

    gc.collect()
    assert not list(private_tmpdir.glob(f"{TEMPORARY_PREFIX}*"))
    assert s3.counts()["PUT"] == 0


def test_run_time_reads_make_no_temporary_directory(
    s3: S3Bucket, deploy: Deploy, private_tmpdir: Path
) -> None:
    deploy()
    with override_settings(STATIC_ROOT=None):
        storage = ManifestSyncS3Storage(**s3.options())
        assert storage.exists("css/site.css")
        storage.open("css/site.css").close()

    assert list(private_tmpdir.iterdir()) == []


def test_ten_slowdowns_in_a_row_on_one_key_are_ridden_out(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two attempts per round, six rounds: twelve chances for ten refusals.
    monkeypatch.setattr(ManifestSyncS3Storage, "upload_retry_delays", (0.01,) * 5)
    burst = s3.add_fault(
        Fault("PUT", r"static/js/app\.js$", status=503, code="SlowDown", times=10)
    )

    storage = deploy(
        client_config=Config(retries={"mode": "standard", "total_max_attempts": 2})
    )

    assert burst.hits == 10
    assert s3.get("static/js/app.js") == (static_source.root / "js/app.js").read_bytes()
    assert "js/app.js" in storage.last_publish.uploaded


def test_access_denied_is_not_retried(s3: S3Bucket, deploy: Deploy) -> None:
    denied = s3.add_fault(
        Fault("PUT", r"static/js/app\.js$", status=403, code="AccessDenied")
    )

    with pytest.raises(PublishError, match="AccessDenied"):
        deploy()

    assert denied.hits == 1
    assert "static/staticfiles.json" not in s3.object_keys()


def test_a_failed_delete_of_a_key_with_a_colon_is_not_reported_deleted(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    s3.put("static/old/a:b.txt", b"stale")
    static_source.touch_all()
    s3.add_fault(Fault("POST", status=500))

    storage = deploy(command_options={"clear": True})

    assert "old/a:b.txt" not in storage.last_publish.deleted
    assert "static/old/a:b.txt" in s3.object_keys()


def test_the_context_is_the_same_in_every_process() -> None:
    # Each deploy is a new process: a digest of anything process-specific (a
    # memory address in a repr) would make every deploy a full upload.
    program = (
        "import django; django.setup();"
        "from django.contrib.staticfiles.storage import ManifestStaticFilesStorage;"
        "from whitenoise.storage import CompressedManifestStaticFilesStorage;"
        "from django_s3_manifest_storage.collect.hashing import collection_context;"
        "print(collection_context(ManifestStaticFilesStorage, {}),"
        " collection_context(CompressedManifestStaticFilesStorage, {}))"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    outputs = {
        subprocess.run(
            [sys.executable, "-c", program],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for _ in range(2)
    }
    assert len(outputs) == 1
    assert "hashing" in outputs.pop()
