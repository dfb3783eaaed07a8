"""The deploy scenarios, end to end against a real S3 endpoint."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError

from django_s3_manifest_storage.errors import PublishError
from django_s3_manifest_storage.testing.s3_server import Fault

from .conftest import Deploy, S3Bucket, StaticSource

MANIFEST_KEY = "static/staticfiles.json"


def deployed_manifest(s3: S3Bucket) -> dict[str, str]:
    paths: dict[str, str] = json.loads(s3.get(MANIFEST_KEY))["paths"]
    return paths


def uploaded_names(s3: S3Bucket) -> set[str]:
    return {key.removeprefix("static/") for key in s3.put_keys()}


def test_first_deploy_uploads_the_local_collection_manifest_last(
    s3: S3Bucket, deploy: Deploy, reference_collection
) -> None:
    storage = deploy()

    expected = {f"static/{name}": body for name, body in reference_collection().items()}
    assert s3.objects() == expected
    put_keys = s3.put_keys()
    assert len(put_keys) == len(expected)
    assert put_keys[-1] == MANIFEST_KEY
    # Before the first upload: only the reads of the deployed manifest and of
    # a failed run's record of what it stored.
    first_put = next(
        i for i, r in enumerate(s3.bundled_server.requests) if r.method == "PUT"
    )
    assert sorted((r.kind, r.key) for r in s3.bundled_server.requests[:first_put]) == [
        ("GET", MANIFEST_KEY),
        ("GET", f"{MANIFEST_KEY}.pending"),
    ]
    assert storage.last_publish.unchanged == 0
    assert len(storage.last_publish.uploaded) == len(expected)


def test_hashed_files_are_uploaded_before_originals(
    s3: S3Bucket, deploy: Deploy
) -> None:
    deploy()

    manifest = deployed_manifest(s3)
    order = {
        name: i
        for i, name in enumerate(k.removeprefix("static/") for k in s3.put_keys())
    }
    last_hashed = max(order[hashed] for hashed in manifest.values())
    first_original = min(order[original] for original in manifest)
    assert last_hashed < first_original


def test_redeploy_with_nothing_changed_uploads_nothing(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    objects_before = s3.objects()
    s3.clear_log()

    static_source.touch_all()  # a fresh checkout: every source is newer
    storage = deploy()

    # One GET of the manifest, whose record says nothing changed: no listing
    # (verify_remote is off), no upload.
    assert s3.counts() == {"GET": 1}
    assert s3.objects() == objects_before
    assert storage.last_publish.uploaded == ()
    assert storage.last_publish.unchanged == len(objects_before) - 1


def test_redeploy_into_a_kept_staging_dir_uploads_nothing(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource, tmp_path: Path
) -> None:
    staging_dir = tmp_path / "staging_dir"
    deploy(staging_dir=staging_dir)
    s3.clear_log()

    static_source.touch_all()
    deploy(staging_dir=staging_dir)

    assert s3.counts() == {"GET": 1}


def test_one_changed_css_uploads_it_and_what_references_it(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    before = deployed_manifest(s3)
    s3.clear_log()

    static_source.write("css/site.css", b'body { background: url("../img/bg.png"); }\n')
    deploy()

    after = deployed_manifest(s3)
    # print.css @imports site.css, so its hashed name changes too.
    changed = {"css/site.css", "css/print.css"}
    assert {name for name in after if after[name] != before[name]} == changed
    assert uploaded_names(s3) == {
        *changed,
        *(after[name] for name in changed),
        "staticfiles.json",
    }
    assert s3.put_keys()[-1] == MANIFEST_KEY
    assert s3.get(f"static/{after['css/site.css']}").startswith(b"body { background")


def test_changed_image_uploads_it_and_each_referencing_css(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    s3.clear_log()

    static_source.write("img/bg.png", b"\x89PNG\r\n\x1a\n background v2")
    deploy()

    after = deployed_manifest(s3)
    changed = {"img/bg.png", "css/site.css", "css/print.css"}
    assert uploaded_names(s3) == {
        *changed,
        *(after[name] for name in changed),
        "staticfiles.json",
    }
    site_css = s3.get(f"static/{after['css/site.css']}")
    assert after["img/bg.png"].removeprefix("img/").encode() in site_css


@pytest.mark.parametrize(
    "garbage", [b"", b"not json at all", b"[1, 2]", b'{"version": "9", "paths": {}}']
)
def test_unusable_remote_manifest_means_a_first_deploy(
    s3: S3Bucket,
    deploy: Deploy,
    reference_collection,
    garbage: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    s3.put(MANIFEST_KEY, garbage)

    with caplog.at_level(logging.WARNING, "django_s3_manifest_storage"):
        deploy()

    expected = {f"static/{name}": body for name, body in reference_collection().items()}
    assert s3.objects() == expected
    assert any(MANIFEST_KEY in record.getMessage() for record in caplog.records)


def test_missing_remote_manifest_means_a_first_deploy(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    s3.client.delete_object(Bucket=s3.name, Key=MANIFEST_KEY)
    s3.clear_log()

    static_source.touch_all()
    deploy()

    assert s3.counts()["PUT"] == len(s3.objects())


def test_failed_upload_keeps_the_old_manifest_and_a_rerun_finishes(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    old_manifest = s3.get(MANIFEST_KEY)
    static_source.write("css/plain.css", b"p { margin: 1em; }\n")
    s3.add_fault(
        Fault(
            "PUT",
            key_pattern=r"css/plain\.[0-9a-f]{12}\.css$",
            status=403,
            code="AccessDenied",
        )
    )

    with pytest.raises(PublishError) as failure:
        deploy()

    message = str(failure.value)
    assert "css/plain." in message
    assert "AccessDenied" in message
    assert s3.name in message
    assert s3.get(MANIFEST_KEY) == old_manifest

    s3.bundled_server.clear_faults()
    s3.clear_log()
    deploy()

    new_manifest = deployed_manifest(s3)
    assert s3.get(f"static/{new_manifest['css/plain.css']}") == b"p { margin: 1em; }\n"
    assert uploaded_names(s3) == {
        "css/plain.css",
        new_manifest["css/plain.css"],
        "staticfiles.json",
    }


def test_many_failed_uploads_are_counted_and_the_first_ten_named(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    for number in range(12):
        static_source.write(f"many/file{number:02}.txt", f"file {number}\n".encode())
    # Every hashed name is refused: the deploy stops before the originals.
    fault = s3.add_fault(
        Fault("PUT", key_pattern=r"\.[0-9a-f]{12}\.", status=403, code="AccessDenied")
    )

    with pytest.raises(PublishError) as failure:
        deploy()

    # Each refused once (not retried), each counted in the message.
    refused = fault.hits
    assert refused == s3.counts()["PUT"] > 10
    lines = str(failure.value).splitlines()
    assert lines[0].startswith(f"{refused} file(s) could not be uploaded to s3://")
    named = [line for line in lines if " -> s3://" in line]
    assert len(named) == 10
    assert all("AccessDenied (HTTP 403)" in line for line in named)
    assert f"  ... and {refused - 10} more" in lines
    assert not s3.objects()


def test_failed_upload_makes_manage_py_exit_non_zero(
    s3: S3Bucket, deploy: Deploy, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.add_fault(
        Fault("PUT", key_pattern=r"js/app\.js$", status=403, code="AccessDenied")
    )
    with pytest.raises(CommandError) as failure:
        deploy()
    assert isinstance(failure.value, PublishError)
    # BaseCommand.run_from_argv turns a CommandError into exit status 1.
    assert failure.value.returncode == 1
    assert "js/app.js" in str(failure.value)
    assert not any(key.endswith("staticfiles.json") for key in s3.objects())


def test_dry_run_changes_nothing_on_s3(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy(dry_run=True)
    assert s3.counts()["PUT"] == 0
    assert s3.objects() == {}

    deploy()
    objects = s3.objects()
    static_source.write("css/plain.css", b"p { margin: 2em; }\n")
    s3.clear_log()

    deploy(dry_run=True)

    counts = s3.counts()
    assert counts["PUT"] == 0
    assert counts["DELETE"] == 0
    assert s3.objects() == objects


def test_temporary_staging_is_removed_after_publishing(
    s3: S3Bucket, deploy: Deploy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temporary_root = tmp_path / "tmp"
    temporary_root.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temporary_root))

    storage = deploy()

    assert storage.last_publish is not None
    assert list(temporary_root.iterdir()) == []


def test_kept_staging_dir_holds_the_collection(
    s3: S3Bucket, deploy: Deploy, tmp_path: Path, reference_collection
) -> None:
    staging_dir = tmp_path / "staging_dir"
    deploy(staging_dir=staging_dir)
    collected = {
        path.relative_to(staging_dir).as_posix(): path.read_bytes()
        for path in staging_dir.rglob("*")
        if path.is_file()
    }
    assert collected == reference_collection()
    shutil.rmtree(staging_dir)
