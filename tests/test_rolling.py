"""Rolling deploys: --clear, retention, a truthful dry run, summary, run time."""

from __future__ import annotations

import io
import json
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.test import override_settings

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.errors import PublishError
from django_s3_manifest_storage.s3 import DEFAULT_RETRIES
from django_s3_manifest_storage.testing.s3_server import Fault

from .conftest import Deploy, S3Bucket, StaticSource

MANIFEST_KEY = "static/staticfiles.json"
WHITENOISE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


def deployed_paths(s3: S3Bucket) -> dict[str, str]:
    paths: dict[str, str] = json.loads(s3.get(MANIFEST_KEY))["paths"]
    return paths


def release_names(paths: dict[str, str]) -> set[str]:
    return {f"static/{name}" for name in (*paths, *paths.values())}


# --clear -------------------------------------------------------------------


def test_clear_leaves_exactly_the_new_collection(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource, reference_collection
) -> None:
    deploy()
    (static_source.root / "js" / "app.js").unlink()
    static_source.write("css/plain.css", b"p { margin: 3em; }\n")
    s3.clear_log()

    storage = deploy(command_options={"clear": True})

    requests = s3.bundled_server.requests
    manifest_put = next(
        i for i, r in enumerate(requests) if r.method == "PUT" and r.key == MANIFEST_KEY
    )
    first_delete = next(i for i, r in enumerate(requests) if r.method == "POST")
    assert manifest_put < first_delete  # stale files go once the new release is live
    assert "DELETE" not in {r.method for r in requests}  # batched, not one per key
    expected = {f"static/{name}" for name in reference_collection()}
    assert set(s3.objects()) == expected
    assert "js/app.js" in storage.last_publish.deleted


def test_clear_deletes_in_batches_of_a_thousand(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    stale = [f"static/old/file{number}.txt" for number in range(1001)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: s3.put(key, b"old"), stale))
    s3.clear_log()
    static_source.touch_all()

    storage = deploy(command_options={"clear": True})

    assert storage.last_publish.reused_deployed  # nothing changed, still cleared
    assert not any(key.startswith("static/old/") for key in s3.objects())
    counts = s3.counts()
    assert counts["POST"] == math.ceil(1001 / 1000)
    assert counts["PUT"] == 0
    assert counts["DELETE"] == 0


def test_without_clear_nothing_is_deleted(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    before = set(s3.objects())
    (static_source.root / "js" / "app.js").unlink()
    static_source.write("css/plain.css", b"p { margin: 3em; }\n")

    deploy()

    assert before <= set(s3.objects())  # old hashed files stay for old pods


# Retention -----------------------------------------------------------------


def deploy_release(
    number: int, deploy: Deploy, static_source: StaticSource, s3: S3Bucket, **options
) -> dict[str, str]:
    deploy_release_storage(number, deploy, static_source, **options)
    return deployed_paths(s3)


def deploy_release_storage(
    number: int, deploy: Deploy, static_source: StaticSource, **options: Any
) -> ManifestSyncS3Storage:
    """``deploy_release``, returning the storage that deployed."""
    static_source.write(f"release/only-in-{number}.txt", f"release {number}\n".encode())
    for other in range(1, number):
        (static_source.root / "release" / f"only-in-{other}.txt").unlink(
            missing_ok=True
        )
    static_source.write("css/plain.css", f"p {{ order: {number}; }}\n".encode())
    return deploy(keep_releases=2, **options)


def test_keep_releases_prunes_what_only_older_releases_use(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    release_1 = deploy_release(1, deploy, static_source, s3)
    release_2 = deploy_release(2, deploy, static_source, s3)
    s3.clear_log()
    release_3 = deploy_release(3, deploy, static_source, s3)

    # Only release 3 prunes: release 2 was the first with two copies kept.
    assert s3.counts()["POST"] == 1
    keys = set(s3.objects())
    assert release_names(release_2) <= keys
    assert release_names(release_3) <= keys
    unique_to_1 = (
        release_names(release_1) - release_names(release_2) - release_names(release_3)
    )
    assert unique_to_1  # the test means something
    assert not unique_to_1 & keys
    history = sorted(key for key in keys if ".history/" in key)
    assert len(history) == 2


def test_a_release_published_before_retention_is_left_alone(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    # Release 1 went out before retention was configured: no copy of it, so
    # no kept record says which objects are its own.
    static_source.write("release/only-in-1.txt", b"release 1\n")
    deploy()
    release_1 = deployed_paths(s3)

    deploy_release(2, deploy, static_source, s3)
    storage = deploy_release_storage(3, deploy, static_source)

    keys = set(s3.objects())
    # Releases 2 and 3 are recorded; release 1's files belong to no release
    # retention knows of, and stay (counted), as anything else would.
    assert "static/release/only-in-2.txt" in keys
    unique_to_1 = release_names(release_1) - release_names(deployed_paths(s3))
    assert "static/release/only-in-1.txt" in unique_to_1
    assert unique_to_1 <= keys
    report = storage.last_publish
    assert report is not None
    assert report.left_alone == len(unique_to_1)
    assert f"{len(unique_to_1)} object(s) under s3://{s3.name}/static" in (
        report.summary()
    )


def test_pruning_keeps_unrecorded_releases(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    static_source.write("release/only-in-1.txt", b"release 1\n")
    deploy()
    release_1 = deployed_paths(s3)

    deploy_release(2, deploy, static_source, s3)

    # One copy recorded, two releases to keep: release 1 may still be serving.
    assert release_names(release_1) <= set(s3.objects())


def test_a_failed_delete_never_touches_the_live_release(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    release_1 = deploy_release(1, deploy, static_source, s3)
    release_2 = deploy_release(2, deploy, static_source, s3)
    # DeleteObjects is a POST to the bucket itself (an empty key).
    fault = s3.add_fault(
        Fault("POST", key_pattern=r"^$", status=500, code="InternalError")
    )
    s3.clear_log()
    output = io.StringIO()

    release_3 = deploy_release(
        3, deploy, static_source, s3, command_options={"stdout": output}
    )

    # Pruning tried, S3 refused every attempt, and the deploy still succeeded.
    assert fault.hits == s3.counts()["POST"] == DEFAULT_RETRIES["total_max_attempts"]
    keys = set(s3.objects())
    assert release_names(release_3) <= keys
    assert deployed_paths(s3) == release_3
    # What pruning would have deleted is still there, and the output says so.
    unique_to_1 = (
        release_names(release_1) - release_names(release_2) - release_names(release_3)
    )
    assert unique_to_1
    assert unique_to_1 <= keys
    assert len([key for key in keys if ".history/" in key]) == 3
    # Release 1's files and its manifest copy.
    stale = len(unique_to_1) + 1
    assert f"{stale} stale object(s) in s3://{s3.name}/static could not be deleted" in (
        output.getvalue()
    )


# Dry run -------------------------------------------------------------------


def test_dry_run_lists_exactly_what_the_deploy_uploads(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    static_source.write("img/bg.png", b"\x89PNG\r\n\x1a\n background v3")
    static_source.write("js/new.js", b"let fresh = true;\n")
    (static_source.root / "data" / "config.json").unlink()
    s3.clear_log()

    output = io.StringIO()
    planned = deploy(
        dry_run=True,
        command_options={"clear": True, "verbosity": 2, "stdout": output},
    ).last_dry_run
    assert s3.counts()["PUT"] == 0
    assert s3.counts()["POST"] == 0

    published = deploy(command_options={"clear": True}).last_publish

    assert set(planned.uploads) == set(published.uploaded)
    assert set(planned.deletions) == set(published.deleted)
    assert "data/config.json" in planned.deletions
    text = output.getvalue()
    assert f"{len(planned.uploads)} file(s)" in text
    for name in planned.uploads:
        assert f"would upload {name}" in text
    assert "would delete data/config.json" in text


def test_dry_run_counts_the_history_copy_a_deploy_sends(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy(keep_releases=2)
    static_source.write("img/bg.png", b"\x89PNG\r\n\x1a\n background v4")

    planned = deploy(keep_releases=2, dry_run=True).last_dry_run
    s3.clear_log()
    published = deploy(keep_releases=2).last_publish

    copies = [name for name in planned.uploads if ".history/" in name]
    assert len(copies) == 1
    assert len(planned.uploads) == len(published.uploaded) == s3.counts()["PUT"]
    assert planned.upload_bytes == published.uploaded_bytes
    # The copy's name carries the time it is made; the rest are the same.
    assert {name for name in planned.uploads if ".history/" not in name} == {
        name for name in published.uploaded if ".history/" not in name
    }


def test_dry_run_of_an_unchanged_project_plans_nothing(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    # whitenoise writes compressed variants, which the manifest does not name.
    pytest.importorskip("whitenoise")
    static_source.write("js/app.js", b'console.log("app");\n' * 200)
    deploy(local_storage_class=WHITENOISE)
    assert any(key.endswith(".gz") for key in s3.object_keys())
    static_source.touch_all()
    s3.clear_log()

    # --clear, so that the dry run plans deletions: none of the live
    # release's objects, their variants or the manifest is stale.
    planned = deploy(
        dry_run=True,
        local_storage_class=WHITENOISE,
        command_options={"clear": True},
    ).last_dry_run

    assert planned.uploads == ()
    assert planned.deletions == ()
    assert s3.counts() == {"GET": 1, "LIST": 1}


# Summary and progress ------------------------------------------------------


def test_summary_comes_before_collectstatic_s_closing_line(
    s3: S3Bucket, deploy: Deploy
) -> None:
    output = io.StringIO()
    deploy(command_options={"verbosity": 1, "stdout": output})
    lines = [line for line in output.getvalue().splitlines() if line]
    summary = [line for line in lines if line.startswith("Published to ")]
    assert len(summary) == 1
    assert lines.index(summary[0]) == len(lines) - 2
    assert "static files copied" in lines[-1]
    assert f"s3://{s3.name}/static" in summary[0]
    assert "uploaded" in summary[0]
    assert "unchanged" in summary[0]
    # Not a terminal: no progress lines for a deploy this short.
    assert not any(line.startswith("Uploading") for line in lines)


def test_verbosity_zero_prints_nothing(s3: S3Bucket, deploy: Deploy) -> None:
    output = io.StringIO()
    deploy(command_options={"verbosity": 0, "stdout": output})
    assert output.getvalue() == ""


# Run time across releases --------------------------------------------------


def test_a_running_process_keeps_its_release_urls(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    with override_settings(STATIC_ROOT=None):
        running = ManifestSyncS3Storage(**s3.options())
        release_n = running.url("css/plain.css")

        static_source.write("css/plain.css", b"p { margin: 9em; }\n")
        deploy()

        assert running.url("css/plain.css") == release_n
        fresh = ManifestSyncS3Storage(**s3.options())
        assert fresh.url("css/plain.css") != release_n


# Verification against a listing --------------------------------------------


def test_a_refused_listing_fails_the_deploy_and_names_the_bucket(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    live_manifest = s3.get(MANIFEST_KEY)
    static_source.write("css/plain.css", b"p { margin: 5em; }\n")
    # A listing is a GET of the bucket itself (an empty key).
    fault = s3.add_fault(
        Fault("GET", key_pattern=r"^$", status=403, code="AccessDenied")
    )

    with pytest.raises(PublishError) as failure:
        deploy(verify_remote=True)

    message = str(failure.value)
    assert f"Cannot list s3://{s3.name}/static/" in message
    assert "AccessDenied (HTTP 403)" in message
    assert fault.hits == 1  # refused, not retried
    assert s3.get(MANIFEST_KEY) == live_manifest


def test_verify_remote_restores_files_deleted_behind_our_back(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    storage = deploy(verify_remote=True)
    hashed = f"static/{storage.hashed_files['css/site.css']}"
    lost = [hashed, "static/img/logo.png"]
    for key in lost:
        s3.client.delete_object(Bucket=s3.name, Key=key)
    s3.clear_log()
    static_source.touch_all()

    deploy(verify_remote=True)

    listings = s3.counts()["LIST"]
    assert set(s3.put_keys()) == set(lost)
    objects = s3.objects()
    assert all(key in objects for key in lost)
    assert listings == math.ceil(len(objects) / 1000)


def test_verify_remote_costs_one_listing_when_nothing_is_missing(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy(verify_remote=True)
    s3.clear_log()
    static_source.touch_all()

    deploy(verify_remote=True)

    assert s3.counts() == {"GET": 1, "LIST": 1}


def test_progress_lines_are_rate_limited() -> None:
    from django_s3_manifest_storage.console import CommandOptions, PeriodicLines

    output = io.StringIO()
    command = CommandOptions(verbosity=1, stdout=output)
    every_time = PeriodicLines(command, files=3, total_bytes=300, interval=0)
    for _ in range(3):
        every_time.advance(100)
    assert output.getvalue().count("Uploading: ") == 3
    assert "3/3 files" in output.getvalue()

    output.seek(0)
    output.truncate()
    rarely = PeriodicLines(command, files=3, total_bytes=300, interval=3600)
    for _ in range(3):
        rarely.advance(100)
    assert output.getvalue() == ""
