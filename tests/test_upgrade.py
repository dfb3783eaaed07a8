"""After a full hashing pass (a new Django, new upload parameters), only what
S3 does not hold as it should is sent: new or changed bytes are uploaded,
objects whose parameters alone changed are updated in place with a copy onto
themselves, and the rest stays."""

from __future__ import annotations

import io
from typing import Any

import django
import pytest

from django_s3_manifest_storage import console
from django_s3_manifest_storage.testing.s3_server import Fault

from .conftest import Deploy, S3Bucket, StaticSource
from .test_progress import assert_counts_every_upload_once, progress_counts

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

MANIFEST = "static/staticfiles.json"
RECORD = "static/staticfiles.json.sources"
WHITENOISE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
# Long enough for whitenoise to write compressed variants.
COMPRESSIBLE_JS = b'console.log("app");\n' * 200
NEW_POLICY = "public, max-age=600"
IMMUTABLE = "public, max-age=31536000, immutable"

# Every header a PUT sets that a copy must set the same way.
HEAD_FIELDS = (
    "ContentType",
    "CacheControl",
    "ContentEncoding",
    "ContentLength",
    "ETag",
    "Metadata",
)

# What the HEAD comparisons cover: an ACL, gzip'd objects (the ``gzip``
# option) and user metadata, besides whitenoise's variants.
OPTIONS: dict[str, Any] = {
    "incremental_hashing": True,
    "local_storage_class": WHITENOISE,
    "gzip": True,
    "default_acl": "public-read",
    "object_parameters": {"Metadata": {"team": "web"}},
}


def collection_keys(s3: S3Bucket, prefix: str = "static/") -> list[str]:
    return [
        key
        for key in s3.object_keys(prefix)
        if not key.startswith((MANIFEST, f"{prefix}staticfiles.json"))
    ]


def stored(s3: S3Bucket, key: str) -> dict[str, Any]:
    """What a HEAD and the ACL say of an object."""
    head = s3.head(key)
    grants = s3.client.get_object_acl(Bucket=s3.name, Key=key)["Grants"]
    return {
        **{field: head.get(field) for field in HEAD_FIELDS},
        "Grants": sorted(repr(grant) for grant in grants),
    }


def kinds_by_key(s3: S3Bucket) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for request in s3.bundled_server.requests:
        if request.bucket == s3.name and request.method == "PUT":
            seen.setdefault(request.kind, set()).add(request.key)
    return seen


@pytest.fixture
def whitenoise_source(static_source: StaticSource) -> StaticSource:
    pytest.importorskip("whitenoise")
    static_source.write("js/app.js", COMPRESSIBLE_JS)
    return static_source


@pytest.mark.parametrize("local_storage", ["django", "whitenoise"])
def test_a_django_upgrade_sends_the_manifest_and_its_records_only(
    s3: S3Bucket,
    deploy: Deploy,
    whitenoise_source: StaticSource,
    monkeypatch: pytest.MonkeyPatch,
    local_storage: str,
) -> None:
    options = {**OPTIONS, "keep_releases": 3}
    if local_storage == "django":
        options.pop("local_storage_class")
    deploy(**options)
    objects = {key: stored(s3, key) for key in collection_keys(s3)}
    # The harness fakes the upgrade: the context records django.__version__,
    # and two Django releases cannot be installed in one environment.
    monkeypatch.setattr(django, "__version__", "9.9")
    s3.clear_log()

    report = deploy(**options).last_publish

    puts = kinds_by_key(s3)
    assert set(puts) == {"PUT"}
    history = {key for key in puts["PUT"] if ".history/" in key}
    assert len(history) == 1
    assert puts["PUT"] == {MANIFEST, RECORD, *history}
    assert set(report.uploaded) == {key.removeprefix("static/") for key in puts["PUT"]}
    assert report.headers_updated == ()
    assert report.unchanged == len(objects)
    assert report.hashing is not None
    assert not report.hashing.incremental
    assert "(Django " in report.summary()
    assert "-> 9.9" in report.summary()
    assert "Everything was uploaded" not in report.summary()
    assert {key: stored(s3, key) for key in collection_keys(s3)} == objects


def test_a_cache_control_change_updates_headers_in_place(
    s3: S3Bucket,
    deploy: Deploy,
    whitenoise_source: StaticSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A fresh deploy with the new setting, under another location: what a
    # PUT of each object leaves.
    deploy(**OPTIONS, location="fresh", hashed_cache_control=NEW_POLICY)
    deploy(**OPTIONS)
    before = {key: stored(s3, key) for key in collection_keys(s3)}
    bodies = {key: s3.get(key) for key in before}
    # Hashed names and their variants: those the setting applies to.
    hashed = {key for key, seen in before.items() if seen["CacheControl"] == IMMUTABLE}
    planned = deploy(**OPTIONS, hashed_cache_control=NEW_POLICY, dry_run=True)
    monkeypatch.setattr(console, "LINE_INTERVAL", 0.0)  # a progress line each
    output = io.StringIO()
    s3.clear_log()

    report = deploy(
        **OPTIONS,
        hashed_cache_control=NEW_POLICY,
        command_options={"verbosity": 1, "stdout": output},
    ).last_publish

    seen = kinds_by_key(s3)
    assert seen["PUT"] == {MANIFEST, RECORD}
    copies = [r for r in s3.bundled_server.requests if r.kind == "COPY"]
    assert sorted(r.key for r in copies) == sorted(hashed)
    assert all(r.copy_source.endswith(r.key) for r in copies)
    assert sorted(f"static/{name}" for name in report.headers_updated) == sorted(hashed)
    assert len(report.uploaded) == len(seen["PUT"])
    assert report.unchanged == len(before) - len(hashed)
    assert f"{len(hashed)} headers updated" in report.summary()
    # The progress counts each object the server stored: copies included.
    assert_counts_every_upload_once(
        progress_counts(output.getvalue()), len(copies) + len(seen["PUT"])
    )
    dry_run = planned.last_dry_run
    assert sorted(dry_run.header_updates) == sorted(report.headers_updated)
    assert len(dry_run.uploads) == len(report.uploaded)
    assert dry_run.unchanged == report.unchanged
    for key in before:
        fresh = stored(s3, "fresh/" + key.removeprefix("static/"))
        assert stored(s3, key) == fresh, key
        assert s3.get(key) == bodies[key], key
    assert any(before[key]["ContentEncoding"] == "gzip" for key in hashed)
    assert all(s3.head(key)["CacheControl"] == NEW_POLICY for key in hashed)


def test_the_dry_run_counts_header_updates(
    s3: S3Bucket, deploy: Deploy, whitenoise_source: StaticSource
) -> None:
    deploy(**OPTIONS)
    output = io.StringIO()
    s3.clear_log()

    storage = deploy(
        **OPTIONS,
        hashed_cache_control=NEW_POLICY,
        dry_run=True,
        command_options={"verbosity": 2, "stdout": output},
    )

    planned = storage.last_dry_run
    assert planned.header_updates
    assert f", {len(planned.header_updates)} headers updated, " in output.getvalue()
    for name in planned.header_updates:
        assert f"  would update the headers of {name}\n" in output.getvalue()
    assert s3.counts()["PUT"] == s3.counts()["COPY"] == 0


def test_a_server_refusing_copies_gets_the_bytes_again(
    s3: S3Bucket, deploy: Deploy, whitenoise_source: StaticSource
) -> None:
    deploy(**OPTIONS, location="fresh", hashed_cache_control=NEW_POLICY)
    deploy(**OPTIONS)
    s3.add_fault(Fault("COPY", status=501, code="NotImplemented"))
    s3.clear_log()

    report = deploy(**OPTIONS, hashed_cache_control=NEW_POLICY).last_publish

    # The copies in flight when the first is refused are refused too; then
    # every object goes as a PUT, the refused ones included, counted so.
    refused = {r.key for r in s3.bundled_server.requests if r.kind == "COPY"}
    assert refused
    assert refused < set(s3.put_keys())
    assert report.headers_updated == ()
    assert len(report.uploaded) == s3.counts()["PUT"]
    assert {MANIFEST, RECORD} < set(s3.put_keys())
    for key in collection_keys(s3):
        fresh = stored(s3, "fresh/" + key.removeprefix("static/"))
        assert stored(s3, key) == fresh, key


def test_a_failing_copy_fails_the_deploy_and_keeps_the_old_manifest(
    s3: S3Bucket, deploy: Deploy, whitenoise_source: StaticSource
) -> None:
    deploy(**OPTIONS)
    live = s3.get(MANIFEST)
    s3.add_fault(Fault("COPY", status=403, code="AccessDenied"))

    with pytest.raises(Exception, match="AccessDenied"):
        deploy(**OPTIONS, hashed_cache_control=NEW_POLICY)

    assert s3.get(MANIFEST) == live
    # The copies come before the manifest: none was sent.
    assert s3.counts()["COPY"] >= 1
    assert MANIFEST not in s3.put_keys()[-1:]


def test_a_release_without_stored_objects_is_uploaded_again(
    s3: S3Bucket, deploy: Deploy, whitenoise_source: StaticSource
) -> None:
    """Published without a record (incremental hashing off, an older
    version, another tool): today's behaviour, every object uploaded."""
    deploy(**{**OPTIONS, "incremental_hashing": False})
    objects = collection_keys(s3)
    s3.clear_log()

    report = deploy(**OPTIONS, hashed_cache_control=NEW_POLICY).last_publish

    assert "Everything was uploaded: upload parameters changed" in report.summary()
    assert s3.counts()["COPY"] == 0
    assert len(report.uploaded) == s3.counts()["PUT"] == len(objects) + 2


def test_the_record_travels_gzipped_and_is_read_back(
    s3: S3Bucket, deploy: Deploy, whitenoise_source: StaticSource
) -> None:
    deploy(**OPTIONS)
    head = s3.head(RECORD)
    whitenoise_source.write("css/extra.css", b"body { margin: 0 }\n")
    s3.clear_log()

    report = deploy(**OPTIONS).last_publish

    assert head["ContentEncoding"] == "gzip"
    assert report.hashing is not None
    assert report.hashing.incremental
    assert s3.counts()["COPY"] == 0


def test_updated_headers_equal_a_fresh_deploy_s_on_any_endpoint(
    s3: S3Bucket, deploy: Deploy, whitenoise_source: StaticSource
) -> None:
    """No request counts: runs against any S3 endpoint (Ceph RGW, MinIO),
    whichever way it takes (copies, or PUTs where copies are refused)."""
    deploy(**OPTIONS, location="fresh", hashed_cache_control=NEW_POLICY)
    deploy(**OPTIONS)
    bodies = {key: s3.get(key) for key in collection_keys(s3)}

    report = deploy(**OPTIONS, hashed_cache_control=NEW_POLICY).last_publish

    assert report.headers_updated or report.uploaded
    for key, body in bodies.items():
        fresh = stored(s3, "fresh/" + key.removeprefix("static/"))
        assert stored(s3, key) == fresh, key
        assert s3.get(key) == body, key
