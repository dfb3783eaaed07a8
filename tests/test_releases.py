"""Kept releases: ``manage.py staticreleases`` lists them, verifies the live
one and rolls back to a kept one; and the pure logic that chooses and checks."""

from __future__ import annotations

import datetime
import gzip
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.test import override_settings

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.errors import PublishError, ReleaseRefused, SettingError
from django_s3_manifest_storage.planning.stamp import SOURCES_METADATA_KEY
from django_s3_manifest_storage.releases.history import kept_releases
from django_s3_manifest_storage.releases.model import (
    KeptRelease,
    live_release,
    missing_files,
    release_contents,
    select_release,
)
from django_s3_manifest_storage.testing.s3_server import Fault

from .conftest import Deploy, S3Bucket, StaticSource

MANIFEST_KEY = "static/staticfiles.json"
HISTORY = "static/staticfiles.json.history/"
StorageSettings = Callable[..., override_settings]


# Pure logic ----------------------------------------------------------------


def release(stamp: str, digest: str) -> KeptRelease:
    [found] = kept_releases(
        [f"staticfiles.json.history/{stamp}-{digest}.json"], "staticfiles.json"
    )
    return found


def test_kept_releases_are_the_history_copies_newest_first() -> None:
    names = [
        "staticfiles.json.history/20261127T100000000000Z-aaaaaaaaaaaa.json",
        "staticfiles.json.history/20261128T090000123456Z-bbbbbbbbbbbb.json",
        "staticfiles.json.history/notes.txt",
        "staticfiles.json.history/latest.json",
        "css/site.css",
        "staticfiles.json",
    ]

    releases = kept_releases(names, "staticfiles.json")

    assert [found.id for found in releases] == [
        "20261128T090000123456Z-bbbbbbbbbbbb",
        "20261127T100000000000Z-aaaaaaaaaaaa",
    ]
    assert releases[0].history == names[1]
    assert releases[0].digest == "bbbbbbbbbbbb"
    assert releases[0].published_at == datetime.datetime(
        2026, 11, 28, 9, 0, 0, 123456, tzinfo=datetime.timezone.utc
    )


def test_minus_n_counts_back_over_releases_that_are_not_live() -> None:
    newest = release("20261130T000000000000Z", "cccccccccccc")  # rolled back from
    live = release("20261129T000000000000Z", "aaaaaaaaaaaa")
    older = release("20261128T000000000000Z", "bbbbbbbbbbbb")
    same_as_live = release("20261127T000000000000Z", "aaaaaaaaaaaa")
    releases = [newest, live, older, same_as_live]

    assert live_release(releases, "aaaaaaaaaaaa") == live
    assert select_release(releases, "-1", "aaaaaaaaaaaa") == newest
    assert select_release(releases, "-2", "aaaaaaaaaaaa") == older
    with pytest.raises(ReleaseRefused, match=r"Cannot roll back 3 .* 2 other"):
        select_release(releases, "-3", "aaaaaaaaaaaa")
    with pytest.raises(ReleaseRefused, match="-1 or more"):
        select_release(releases, "-0", "aaaaaaaaaaaa")
    # Without a live manifest every kept release counts.
    assert select_release(releases, "-3", None) == older


def test_a_release_is_chosen_by_its_id_or_file_name() -> None:
    releases = [
        release("20261128T000000000000Z", "bbbbbbbbbbbb"),
        release("20261127T000000000000Z", "aaaaaaaaaaaa"),
    ]
    wanted = "20261127T000000000000Z-aaaaaaaaaaaa"

    assert select_release(releases, wanted, None).id == wanted
    assert select_release(releases, f"{wanted}.json", None).id == wanted
    with pytest.raises(ReleaseRefused) as refused:
        select_release(releases, "20261126T000000000000Z-aaaaaaaaaaaa", None)
    assert "kept: 20261128T000000000000Z-bbbbbbbbbbbb, " + wanted in str(refused.value)


def test_release_contents_count_variants_and_require_only_named_files() -> None:
    paths = {"css/a.css": "css/a.1.css", "img/b.png": "img/b.2.png"}
    sizes = {
        "css/a.1.css": 100,
        "css/a.1.css.gz": 40,
        "css/a.css": 100,
        "img/b.2.png": 7,
        "other.txt": 1000,
    }

    contents = release_contents(paths, sizes)

    assert contents.files == 4
    assert contents.bytes == 247
    assert contents.missing == ("img/b.png",)
    assert missing_files(paths, sizes) == ("img/b.png",)


# Against S3 ----------------------------------------------------------------


def publish_release(
    number: int, deploy: Deploy, static_source: StaticSource, **options: Any
) -> Any:
    """Deploy release ``number``: a file only it has, and a changed CSS file."""
    for other in range(1, 10):
        (static_source.root / "release" / f"only-in-{other}.txt").unlink(
            missing_ok=True
        )
    static_source.write(f"release/only-in-{number}.txt", f"release {number}\n".encode())
    static_source.write("css/plain.css", f"p {{ order: {number}; }}\n".encode())
    return deploy(**{"keep_releases": 3, **options})


def run_command(storage_settings: StorageSettings, *args: str, **options: Any) -> str:
    output = io.StringIO()
    storage_options = options.pop("storage_options", {"keep_releases": 3})
    with storage_settings(**storage_options):
        call_command("staticreleases", *args, stdout=output, **options)
    return output.getvalue()


def history_keys(s3: S3Bucket) -> list[str]:
    return sorted(s3.object_keys(HISTORY))


def release_id(history_key: str) -> str:
    return history_key[len(HISTORY) : -len(".json")]


def paths_of(manifest: bytes) -> dict[str, str]:
    paths: dict[str, str] = json.loads(manifest)["paths"]
    return paths


def line_for(output: str, release: str) -> str:
    """The row of the list for a release id."""
    [line] = [line for line in output.splitlines() if line.startswith(f"  {release}")]
    return line


def test_list_shows_every_kept_release(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
) -> None:
    publish_release(1, deploy, static_source)
    release_1 = s3.get(MANIFEST_KEY)
    publish_release(2, deploy, static_source)
    first, second = history_keys(s3)
    s3.clear_log()

    output = run_command(storage_settings)

    assert s3.counts() == {"LIST": 1, "GET": 3}  # listing, live, two copies
    listing = s3.client.list_objects_v2(Bucket=s3.name, Prefix="static/")["Contents"]
    sizes = {entry["Key"][len("static/") :]: entry["Size"] for entry in listing}
    names = {*paths_of(release_1), *paths_of(release_1).values()}
    old = line_for(output, release_id(first)).split()
    published = datetime.datetime.strptime(release_id(first)[:15], "%Y%m%dT%H%M%S")
    assert " ".join(old[1:3]) == f"{published:%Y-%m-%d %H:%M:%S}"
    assert old[3:5] == [str(len(names)), f"{sum(sizes[name] for name in names):,}"]
    assert old[5:] == ["complete"]
    assert line_for(output, release_id(second)).endswith("live, complete")
    assert "--rollback -1" in output


def test_list_counts_the_missing_files_of_a_release(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
) -> None:
    publish_release(1, deploy, static_source)
    publish_release(2, deploy, static_source)
    s3.client.delete_object(Bucket=s3.name, Key="static/release/only-in-1.txt")

    output = run_command(storage_settings, verbosity=2)

    first, _second = history_keys(s3)
    assert line_for(output, release_id(first)).endswith("1 missing")
    assert f"missing s3://{s3.name}/static/release/only-in-1.txt" in output


def test_without_kept_releases_the_list_says_how_and_verify_works(
    s3: S3Bucket, deploy: Deploy, storage_settings: StorageSettings
) -> None:
    deploy()

    listed = run_command(storage_settings, storage_options={})
    verified = run_command(storage_settings, verify=True, storage_options={})

    assert f"No releases are kept in s3://{s3.name}/static." in listed
    assert "STORAGES['staticfiles']['OPTIONS']['keep_releases']" in listed
    assert "all present" in listed
    assert "is complete" in verified
    with pytest.raises(ReleaseRefused, match="keep_releases"):
        run_command(storage_settings, rollback="-1", storage_options={})
    assert history_keys(s3) == []


def test_verify_passes_with_one_listing_and_one_get(
    s3: S3Bucket, deploy: Deploy, storage_settings: StorageSettings
) -> None:
    storage = deploy()
    s3.clear_log()

    output = run_command(storage_settings, verify=True)

    assert s3.counts() == {"LIST": 1, "GET": 1}
    paths = storage.hashed_files
    assert f"{len({*paths, *paths.values()})} files" in output
    assert "is complete" in output


def test_verify_fails_naming_each_missing_object(
    s3: S3Bucket,
    deploy: Deploy,
    storage_settings: StorageSettings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    storage = deploy()
    lost = [f"static/{storage.hashed_files['css/site.css']}", "static/img/logo.png"]
    for key in lost:
        s3.client.delete_object(Bucket=s3.name, Key=key)

    with pytest.raises(CommandError) as failed:
        run_command(storage_settings, verify=True)
    for key in lost:
        assert f"s3://{s3.name}/{key}" in str(failed.value)
    assert "2 object(s)" in str(failed.value)

    # From the command line: exit status 1, the same message on stderr.
    with storage_settings(), pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "staticreleases", "--verify"])
    assert exited.value.code == 1
    assert f"s3://{s3.name}/{lost[0]}" in capsys.readouterr().err


@pytest.mark.parametrize("selector", ["-2", "id"])
def test_rollback_makes_a_kept_release_live_in_one_request(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
    selector: str,
) -> None:
    publish_release(1, deploy, static_source)
    release_1 = s3.get(MANIFEST_KEY)
    publish_release(2, deploy, static_source)
    publish_release(3, deploy, static_source)
    first = history_keys(s3)[0]
    recorded = s3.head(first)
    s3.clear_log()

    # Published as a deploy would publish the manifest today.
    output = run_command(
        storage_settings,
        rollback=release_id(first) if selector == "id" else selector,
        storage_options={"keep_releases": 3, "unhashed_cache_control": "max-age=60"},
    )

    # Listing, live manifest, history copy; then a new copy and the live one.
    assert s3.counts() == {"LIST": 1, "GET": 2, "COPY": 2}
    [new_copy, published] = s3.bundled_server.requests[-2:]

    assert s3.get(MANIFEST_KEY) == release_1
    live = s3.head(MANIFEST_KEY)
    assert live["Metadata"] == recorded["Metadata"]  # its fingerprint
    assert SOURCES_METADATA_KEY in live["Metadata"]
    assert live["ContentType"] == "application/json"
    assert live["CacheControl"] == "max-age=60"
    assert published.key == MANIFEST_KEY
    assert published.content_length == 0  # a CopyObject: S3 copied the bytes
    assert new_copy.key.startswith(HISTORY)
    assert new_copy.key.endswith(release_id(first)[-12:] + ".json")
    assert s3.get(new_copy.key) == release_1
    assert f"Made live release {release_id(first)}" in output
    # A fresh process renders release 1's URLs.
    with override_settings(STATIC_ROOT=None):
        fresh = ManifestSyncS3Storage(**s3.options())
        assert fresh.url("css/plain.css").endswith(paths_of(release_1)["css/plain.css"])


def test_rollback_of_a_gzip_encoded_manifest_keeps_it_readable(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
) -> None:
    publish_release(1, deploy, static_source, gzip=True)
    stored_1 = s3.get(MANIFEST_KEY)
    publish_release(2, deploy, static_source, gzip=True)

    run_command(storage_settings, rollback="-1", storage_options={"gzip": True})

    assert s3.head(MANIFEST_KEY)["ContentEncoding"] == "gzip"
    assert s3.get(MANIFEST_KEY) == stored_1
    assert json.loads(gzip.decompress(stored_1))["paths"]


def test_rollback_is_refused_when_a_file_of_the_release_is_missing(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
) -> None:
    publish_release(1, deploy, static_source)
    publish_release(2, deploy, static_source)
    live = s3.get(MANIFEST_KEY)
    s3.client.delete_object(Bucket=s3.name, Key="static/release/only-in-1.txt")
    s3.clear_log()

    with pytest.raises(ReleaseRefused) as refused:
        run_command(storage_settings, rollback="-1")

    assert f"s3://{s3.name}/static/release/only-in-1.txt" in str(refused.value)
    assert "left unchanged" in str(refused.value)
    assert s3.counts()["PUT"] == 0
    assert s3.get(MANIFEST_KEY) == live


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("20200101T000000000000Z-0123456789ab", "No kept release has the id"),
        ("-2", "Cannot roll back 2 release"),
    ],
)
def test_rollback_is_refused_for_a_release_that_is_not_kept(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
    selector: str,
    message: str,
) -> None:
    publish_release(1, deploy, static_source)
    publish_release(2, deploy, static_source)
    live = s3.get(MANIFEST_KEY)
    s3.clear_log()

    with pytest.raises(ReleaseRefused, match=message) as refused:
        run_command(storage_settings, rollback=selector)

    for key in history_keys(s3):
        assert release_id(key) in str(refused.value)  # what is kept
    assert s3.counts()["PUT"] == 0
    assert s3.get(MANIFEST_KEY) == live


def test_rolling_back_to_the_live_release_does_nothing(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
) -> None:
    publish_release(1, deploy, static_source)
    publish_release(2, deploy, static_source)
    s3.clear_log()

    output = run_command(storage_settings, rollback=release_id(history_keys(s3)[-1]))

    assert "already live" in output
    assert s3.counts()["PUT"] == 0


@pytest.mark.parametrize("action", ["error", "reset"])
def test_a_fault_on_the_copy_leaves_the_live_manifest_byte_identical(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
    action: Any,
) -> None:
    publish_release(1, deploy, static_source)
    publish_release(2, deploy, static_source)
    live, live_headers = s3.get(MANIFEST_KEY), s3.head(MANIFEST_KEY)
    kept = history_keys(s3)
    fault = s3.add_fault(Fault("PUT", r"staticfiles\.json$", action=action))

    with pytest.raises(PublishError) as failed:
        run_command(storage_settings, rollback="-1")

    assert fault.hits >= 1
    assert f"s3://{s3.name}/{MANIFEST_KEY}" in str(failed.value)
    s3.bundled_server.clear_faults()
    if action == "error":
        # S3 refused: the copy recorded for the rollback is taken back.
        assert "was not replaced" in str(failed.value)
        assert history_keys(s3) == kept
    else:
        # The request may have succeeded: the copy stays, the user is told.
        assert "may not have been replaced" in str(failed.value)
        assert len(history_keys(s3)) == len(kept) + 1
    assert s3.get(MANIFEST_KEY) == live
    assert s3.head(MANIFEST_KEY)["Metadata"] == live_headers["Metadata"]
    assert s3.head(MANIFEST_KEY)["ETag"] == live_headers["ETag"]


def test_a_copy_that_cannot_be_taken_back_is_named(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
) -> None:
    publish_release(1, deploy, static_source)
    publish_release(2, deploy, static_source)
    live = s3.get(MANIFEST_KEY)
    denied = {"status": 403, "code": "AccessDenied"}
    s3.add_fault(Fault("PUT", r"staticfiles\.json$", **denied))
    s3.add_fault(Fault("DELETE", r"\.history/", **denied))

    with pytest.raises(PublishError) as failed:
        run_command(storage_settings, rollback="-1")

    s3.bundled_server.clear_faults()
    left_behind = history_keys(s3)[-1]
    assert f"s3://{s3.name}/{left_behind}: AccessDenied" in str(failed.value)
    assert "could not be removed" in str(failed.value)
    assert s3.get(MANIFEST_KEY) == live


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_a_store_without_copy_object_gets_a_get_and_a_put(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
    compressed: bool,
) -> None:
    publish_release(1, deploy, static_source, gzip=compressed)
    stored_1 = s3.get(MANIFEST_KEY)
    first = history_keys(s3)[0]
    metadata_1 = s3.head(first)["Metadata"]
    publish_release(2, deploy, static_source, gzip=compressed)
    s3.add_fault(
        Fault("PUT", r"\.history/", status=501, code="NotImplemented", times=1)
    )
    s3.clear_log()

    run_command(storage_settings, rollback="-1", storage_options={"gzip": compressed})

    assert s3.counts()["GET"] == 2  # live manifest, the history copy, once
    puts = [r for r in s3.bundled_server.requests if r.method == "PUT"]
    assert [r.content_length > 0 for r in puts] == [False, True, True]
    assert puts[-1].key == MANIFEST_KEY
    assert s3.get(MANIFEST_KEY) == stored_1  # byte for byte, as stored
    assert s3.head(MANIFEST_KEY)["Metadata"] == metadata_1


def test_dry_run_rollback_changes_nothing(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
) -> None:
    publish_release(1, deploy, static_source)
    publish_release(2, deploy, static_source)
    live = s3.get(MANIFEST_KEY)
    before = s3.objects()
    first = history_keys(s3)[0]
    s3.clear_log()

    output = run_command(storage_settings, rollback="-1", dry_run=True)

    assert s3.counts()["PUT"] == 0
    assert s3.counts()["POST"] == 0
    assert s3.get(MANIFEST_KEY) == live
    assert s3.objects() == before
    assert f"would make live release {release_id(first)}" in output
    assert "all present" in output


def test_the_next_deploy_compares_against_the_rolled_back_release(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
) -> None:
    # Two releases kept: the rollback must count as the newest one, or the
    # deploy after it would prune release 1, the one live until then.
    publish_release(1, deploy, static_source, keep_releases=2)
    release_1 = paths_of(s3.get(MANIFEST_KEY))
    publish_release(2, deploy, static_source, keep_releases=2)
    run_command(storage_settings, rollback="-1", storage_options={"keep_releases": 2})

    # Release 1's sources again: its fingerprint is live, nothing to do.
    s3.clear_log()
    storage = publish_release(1, deploy, static_source, keep_releases=2)
    assert storage.last_publish.reused_deployed
    assert s3.counts()["PUT"] == 0

    # Release 3: uploaded against release 1, the live one.
    s3.clear_log()
    storage = publish_release(3, deploy, static_source, keep_releases=2)
    release_3 = paths_of(s3.get(MANIFEST_KEY))
    uploaded = set(storage.last_publish.uploaded)
    assert uploaded == {
        name
        for original, hashed in release_3.items()
        if release_1.get(original) != hashed
        for name in (original, hashed)
    } | {"staticfiles.json", history_keys(s3)[-1].removeprefix("static/")}
    assert "release/only-in-3.txt" in uploaded
    # Pods of release 1, live until now, still find their files; and the
    # rollback counts as a release for retention.
    keys = set(s3.objects())
    assert {f"static/{name}" for name in (*release_1, *release_1.values())} <= keys
    assert "static/release/only-in-2.txt" not in keys  # retention goes on
    newest = history_keys(s3)[-1]
    assert s3.get(newest) == s3.get(MANIFEST_KEY)


def test_a_manifest_hash_mismatch_is_refused(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
) -> None:
    publish_release(1, deploy, static_source)
    publish_release(2, deploy, static_source)
    first = history_keys(s3)[0]
    s3.put(first, b'{"version": "1.1", "paths": {}}')
    live = s3.get(MANIFEST_KEY)

    with pytest.raises(ReleaseRefused, match="SHA-256"):
        run_command(storage_settings, rollback="-1")

    assert s3.get(MANIFEST_KEY) == live
    assert line_for(run_command(storage_settings), release_id(first)).endswith(
        "unreadable"
    )


def test_the_list_after_a_rollback_and_a_live_manifest_kept_nowhere(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    storage_settings: StorageSettings,
) -> None:
    publish_release(1, deploy, static_source)
    publish_release(2, deploy, static_source)
    run_command(storage_settings, rollback="-1")
    first, second, rolled_back = history_keys(s3)

    listed = run_command(storage_settings)

    assert line_for(listed, release_id(rolled_back)).endswith("live, complete")
    assert line_for(listed, release_id(second)).endswith("  complete")
    assert line_for(listed, release_id(first)).endswith(
        "same manifest as live, complete"
    )

    # Published without keep_releases: live, but not a kept release.
    publish_release(3, deploy, static_source, keep_releases=None)
    listed = run_command(storage_settings)
    assert "The live manifest is none of these: sha256 " in listed
    assert "live" not in line_for(listed, release_id(rolled_back))


def test_another_backend_is_refused_by_name() -> None:
    with pytest.raises(SettingError, match="StaticFilesStorage"):
        call_command("staticreleases", stdout=io.StringIO())
