"""Skipping the work when no source changed, and only then."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import call_command
from django.test import override_settings

from .conftest import BACKEND, Deploy, S3Bucket, StaticSource

MANIFEST_KEY = "static/staticfiles.json"
WHITENOISE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


def uploaded_names(s3: S3Bucket) -> set[str]:
    return {key.removeprefix("static/") for key in s3.put_keys()}


def deployed_paths(s3: S3Bucket) -> dict[str, str]:
    paths: dict[str, str] = json.loads(s3.get(MANIFEST_KEY))["paths"]
    return paths


def test_unchanged_sources_skip_hashing_and_uploads(
    s3: S3Bucket, static_source: StaticSource
) -> None:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": BACKEND, "OPTIONS": s3.options()},
    }
    outputs = []
    with override_settings(
        STATICFILES_DIRS=[str(static_source.root)], STORAGES=storages
    ):
        for _ in range(2):
            output = io.StringIO()
            call_command("collectstatic", interactive=False, verbosity=1, stdout=output)
            outputs.append(output.getvalue())
            static_source.touch_all()

    # Django's own line reports what the stock class's does, though the
    # second run hashed nothing: every file the first time; then the files
    # hashing rewrites (CSS, JS), the others' hashed files being on S3.
    counts = [re.search(r"(\d+) post-processed", output) for output in outputs]
    assert counts[0] is not None
    assert counts[1] is not None
    assert int(counts[0].group(1)) == len(static_source.names())
    rewritten = [
        name for name in static_source.names() if name.endswith((".css", ".js"))
    ]
    assert int(counts[1].group(1)) == len(rewritten)
    assert "hashing skipped" in outputs[1]
    assert s3.put_keys()[-1] == MANIFEST_KEY
    assert s3.counts()["PUT"] == len(s3.objects())  # the first deploy only


SOURCES = "collection-sources"
CONTEXT = "collection-context"
PARAMETERS = "collection-parameters"
OBJECTS = "collection-objects"
ORIGINALS = "collection-originals"


def test_the_manifest_records_what_it_was_made_from(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    def recorded(location: str = "static") -> dict[str, str]:
        metadata: dict[str, str] = s3.head(f"{location}/staticfiles.json")["Metadata"]
        return metadata

    deploy()
    first = recorded()
    assert set(first) == {SOURCES, CONTEXT, PARAMETERS, OBJECTS, ORIGINALS}
    # Every object of the collection, the manifest aside.
    assert int(first[OBJECTS]) == len(s3.object_keys("static/")) - 1
    # Every source's original was published.
    paths = json.loads(s3.get("static/staticfiles.json"))["paths"]
    assert int(first[ORIGINALS]) == len(paths)
    assert re.fullmatch(r"[0-9a-f]{64}", first[SOURCES]), first
    # One entry per part of the context and per upload parameter, so a change
    # can be named.
    assert re.fullmatch(r"(\w+=[\w.]+;)*\w+=[\w.]+", first[CONTEXT]), first
    assert "django=" in first[CONTEXT]
    assert re.fullmatch(r"(\w+=[0-9a-f]{16};)*\w+=[0-9a-f]{16}", first[PARAMETERS])
    assert "CacheControl=" in first[PARAMETERS]

    # The same sources, settings and parameters record the same values.
    deploy(location="again")
    assert recorded("again") == first

    # Each digest moves with what it covers, and only with that.
    deploy(hashed_cache_control="public, max-age=60")
    new_parameters = recorded()
    assert new_parameters[PARAMETERS] != first[PARAMETERS]
    assert new_parameters[SOURCES] == first[SOURCES]
    assert new_parameters[CONTEXT] == first[CONTEXT]

    # whitenoise's settings do not count when whitenoise does not hash...
    with override_settings(WHITENOISE_MANIFEST_STRICT=False):
        deploy()
    assert recorded()[CONTEXT] == first[CONTEXT]
    # ...STATIC_URL does (absolute references in CSS depend on it).
    with override_settings(STATIC_URL="/assets/"):
        deploy()
    new_context = recorded()
    assert new_context[CONTEXT] != first[CONTEXT]
    assert new_context[SOURCES] != first[SOURCES]
    assert new_context[PARAMETERS] == first[PARAMETERS]

    static_source.write("js/app.js", b'console.log("app v2");\n')
    deploy()
    new_source = recorded()
    assert new_source[SOURCES] != first[SOURCES]
    assert new_source[CONTEXT] == first[CONTEXT]


def test_a_changed_byte_of_the_same_size_is_published(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    s3.clear_log()

    static_source.write("img/logo.png", b"\x89PNG\r\n\x1a\n LOGO")  # same length
    storage = deploy()

    hashed = storage.hashed_files["img/logo.png"]
    assert uploaded_names(s3) == {"img/logo.png", hashed, "staticfiles.json"}
    assert s3.get(f"static/{hashed}") == b"\x89PNG\r\n\x1a\n LOGO"


def test_an_added_file_is_published(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    s3.clear_log()

    static_source.write("js/extra.js", b"let extra = 1;\n")
    deploy()

    hashed = deployed_paths(s3)["js/extra.js"]
    assert uploaded_names(s3) == {"js/extra.js", hashed, "staticfiles.json"}


def test_a_removed_file_leaves_the_manifest(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    s3.clear_log()

    (static_source.root / "data" / "config.json").unlink()
    deploy()

    assert "data/config.json" not in deployed_paths(s3)
    assert uploaded_names(s3) == {"staticfiles.json"}


def test_another_local_storage_class_publishes_its_files(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    pytest.importorskip("whitenoise")
    static_source.write("js/app.js", b'console.log("app");\n' * 200)
    deploy()
    assert not any(key.endswith(".gz") for key in s3.objects())
    s3.clear_log()

    storage = deploy(local_storage_class=WHITENOISE)

    hashed_js = storage.hashed_files["js/app.js"]
    assert s3.head(f"static/{hashed_js}.gz")["ContentEncoding"] == "gzip"
    assert s3.put_keys()[-1] == MANIFEST_KEY


def test_new_upload_parameters_reach_every_object(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy(object_parameters={"CacheControl": "max-age=60"})
    s3.clear_log()
    static_source.touch_all()

    deploy(object_parameters={"CacheControl": "max-age=600"})

    objects = s3.objects()
    assert s3.counts()["PUT"] == len(objects)
    for key in objects:
        assert s3.head(key)["CacheControl"] == "max-age=600", key

    s3.clear_log()
    deploy(object_parameters={"CacheControl": "max-age=600"})
    assert s3.counts()["PUT"] == 0


def test_skip_unchanged_can_be_turned_off(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy(skip_unchanged=False)
    s3.clear_log()

    storage = deploy(skip_unchanged=False)

    assert storage.last_publish.reused_deployed is False
    assert s3.counts()["PUT"] == 0


def test_a_manifest_without_a_record_is_not_trusted_for_skipping(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    # As if another tool (S3ManifestStaticStorage) had uploaded the manifest.
    s3.put(MANIFEST_KEY, s3.get(MANIFEST_KEY))
    s3.clear_log()

    storage = deploy()

    assert storage.last_publish.reused_deployed is False
    assert uploaded_names(s3) == {"staticfiles.json"}  # to record the stamp
    s3.clear_log()
    assert deploy().last_publish.reused_deployed is True


def test_unchanged_redeploy_copies_no_file_into_staging(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource, tmp_path
) -> None:
    deploy()
    static_source.touch_all()
    fresh_staging_dir = tmp_path / "fresh_checkout_staging_dir"

    storage = deploy(staging_dir=fresh_staging_dir)

    assert storage.last_publish.reused_deployed
    # Only the manifest, so that run time reads this release's URLs.
    assert [p.name for p in fresh_staging_dir.rglob("*") if p.is_file()] == [
        "staticfiles.json"
    ]
    assert storage.url("css/site.css").endswith(storage.hashed_files["css/site.css"])


def test_changed_redeploy_stages_the_whole_collection(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource, tmp_path
) -> None:
    deploy()
    static_source.write("css/plain.css", b"p { margin: 4em; }\n")
    staging_dir = tmp_path / "staging_dir"

    storage = deploy(staging_dir=staging_dir)

    staged = {p.relative_to(staging_dir).as_posix() for p in staging_dir.rglob("*")}
    assert {*storage.hashed_files, *storage.hashed_files.values()} <= staged


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
def test_unchanged_counts_the_same_objects_whether_hashing_runs_or_not(
    s3: S3Bucket,
    deploy: Deploy,
    compressible_source: StaticSource,
    incremental: bool,
) -> None:
    options = {"local_storage_class": WHITENOISE, "incremental_hashing": incremental}
    deploy(**options)
    bookkeeping = {MANIFEST_KEY, f"{MANIFEST_KEY}.sources"}
    needed = [key for key in s3.object_keys("static/") if key not in bookkeeping]
    # whitenoise's variants are among them, of unhashed originals too.
    assert "static/img/logo.svg.gz" in needed
    s3.clear_log()

    skipped = deploy(**options)
    hashed = deploy(skip_unchanged=False, **options)
    skipped_dry = deploy(dry_run=True, **options)
    hashed_dry = deploy(dry_run=True, skip_unchanged=False, **options)

    assert skipped.last_publish.reused_deployed
    assert hashed.last_publish.hashing.incremental is incremental
    assert s3.counts()["PUT"] == 0
    assert (
        skipped.last_publish.unchanged
        == hashed.last_publish.unchanged
        == skipped_dry.last_dry_run.unchanged
        == hashed_dry.last_dry_run.unchanged
        == len(needed)
    )


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
def test_a_one_file_change_counts_unchanged_among_the_collection_only(
    s3: S3Bucket,
    deploy: Deploy,
    compressible_source: StaticSource,
    incremental: bool,
) -> None:
    # "Uploaded" counts every PUT, the manifest, its history copy and the
    # record of sources included; "unchanged" counts objects of the
    # collection only. So uploaded + unchanged exceeds the collection by the
    # bookkeeping objects sent, while unchanged + the collection's objects
    # sent is the collection, as in an unchanged redeploy's figure.
    options = {
        "local_storage_class": WHITENOISE,
        "incremental_hashing": incremental,
        "keep_releases": 3,
    }
    deploy(**options)
    objects = int(s3.head(MANIFEST_KEY)["Metadata"][OBJECTS])
    s3.clear_log()
    assert deploy(**options).last_publish.unchanged == objects

    compressible_source.write(
        "img/logo.svg", b"<svg xmlns='x'>" + b" " * 400 + b"</svg>"
    )
    planned = deploy(dry_run=True, **options).last_dry_run
    storage = deploy(**options)

    report = storage.last_publish
    sent = s3.put_keys()
    assert sorted(f"static/{name}" for name in report.uploaded) == sorted(sent)
    bookkeeping = {
        key for key in sent if key == MANIFEST_KEY or key.startswith(f"{MANIFEST_KEY}.")
    }
    # The manifest and its history copy, and the record with incremental
    # hashing.
    assert len(bookkeeping) == (3 if incremental else 2)
    # The original, the new hashed name and their variants (.br when brotli
    # is installed); the old hashed name stays on S3 for the kept release.
    hashed = storage.hashed_files["img/logo.svg"]
    logo = {
        key
        for key in s3.object_keys("static/img/")
        if key.removesuffix(".gz").removesuffix(".br")
        in {"static/img/logo.svg", f"static/{hashed}"}
    }
    assert f"static/{hashed}.gz" in logo
    assert set(sent) - bookkeeping == logo
    # The new logo replaces the old one in the collection: the same count.
    assert int(s3.head(MANIFEST_KEY)["Metadata"][OBJECTS]) == objects
    assert report.unchanged == planned.unchanged == objects - len(logo)
