"""The smaller parts of a run on their own: the resume record, the hashing
description, the staging directory, and a run abandoned by collectstatic."""

from __future__ import annotations

import datetime
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import override_settings

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.collect.hashing import (
    collection_context,
    hashing_description,
)
from django_s3_manifest_storage.collect.staging import Staging
from django_s3_manifest_storage.deploy.resume import already_stored, parse_record
from django_s3_manifest_storage.s3 import ListedObject

from .conftest import BACKEND, S3Bucket, StaticSource, saves_failing_at

NOW = datetime.datetime(2026, 11, 29, tzinfo=datetime.timezone.utc)


def listed(etag: str) -> ListedObject:
    return ListedObject(etag, NOW, 10)


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"stored": 3}', b'{"stored": {"a": 1}}']
)
def test_an_unreadable_resume_record_reads_as_none(body: bytes) -> None:
    assert parse_record(body) == {}


def test_a_resume_record_entry_must_match_what_s3_holds() -> None:
    recorded = {"a.css": ("p1", "md5a"), "a.1.css": ("p2", "")}
    listing = {"a.css": listed("md5a"), "a.1.css": listed("x")}

    assert already_stored("a.css", ("p1", "md5a"), recorded, listing)
    assert already_stored("a.1.css", ("p2", ""), recorded, listing)  # hashed
    # Other parameters, other bytes, another ETag, or absent from S3: resend.
    assert not already_stored("a.css", ("p9", "md5a"), recorded, listing)
    assert not already_stored("a.css", ("p1", "md5b"), recorded, listing)
    assert not already_stored(
        "a.css", ("p1", "md5a"), recorded, {"a.css": listed("other")}
    )
    assert not already_stored("a.css", ("p1", "md5a"), recorded, {})
    # A multipart ETag is no MD5: the record is trusted.
    assert already_stored("a.css", ("p1", "md5a"), recorded, {"a.css": listed("x-2")})


class OwnHash(ManifestStaticFilesStorage):
    def file_hash(self, name: str, content: Any = None) -> str | None:
        return "0" * 12


class OtherOwnHash(ManifestStaticFilesStorage):
    def file_hash(self, name: str, content: Any = None) -> str | None:
        return "1" * 12


def test_overridden_hashing_code_is_part_of_the_context() -> None:
    described = hashing_description(OwnHash, {})
    assert any(
        key.endswith("OwnHash.file_hash") and re.fullmatch(r"[0-9a-f]{16}", digest)
        for key, digest in described["overridden"].items()
    )
    plain = collection_context(ManifestStaticFilesStorage, {})["hashing"]
    own = collection_context(OwnHash, {})["hashing"]
    other = collection_context(OtherOwnHash, {})["hashing"]
    assert len({plain, own, other}) == 3
    assert collection_context(OwnHash, {}) == collection_context(OwnHash, {})


def test_the_staging_directory_answers_like_a_file_system_storage(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source.css"
    source.write_bytes(b"body {}")
    staging = Staging(None)
    try:
        staging.stage_source("css/site.css", source)
        assert staging.exists("css/site.css")
        assert not (staging.root / "css/site.css").exists()  # copied on use
        assert staging.size("css/site.css") == 7
        for read_time in (
            staging.get_modified_time,
            staging.get_accessed_time,
            staging.get_created_time,
        ):
            assert isinstance(read_time("css/site.css"), datetime.datetime)
        # Content that is not a file on disk is written at once.
        assert staging.save("js/app.js", ContentFile(b"x")) == "js/app.js"
        assert staging.listdir("") == (["css", "js"], [])
        staging.delete("js/app.js")
        assert not staging.exists("js/app.js")
    finally:
        staging.discard()
    assert not staging.root.exists()


def test_run_time_times_are_the_stock_class_s(s3: S3Bucket) -> None:
    with override_settings(STATIC_ROOT=None):
        storage = ManifestSyncS3Storage(**s3.options())
    for unsupported in (storage.get_accessed_time, storage.get_created_time):
        with pytest.raises(NotImplementedError):
            unsupported("css/site.css")


def test_a_run_abandoned_by_a_failed_collectstatic_does_not_leak_into_the_next(
    s3: S3Bucket, static_source: StaticSource
) -> None:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": BACKEND, "OPTIONS": s3.options()},
    }
    failing_save = saves_failing_at(2)

    with override_settings(
        STATICFILES_DIRS=[str(static_source.root)], STATIC_ROOT=None, STORAGES=storages
    ):
        failed = pytest.MonkeyPatch()
        failed.setattr(ManifestSyncS3Storage, "save", failing_save)
        # pytest.raises keeps the traceback, and with it the failed command
        # and its run: the next collectstatic must replace that run.
        try:
            with pytest.raises(ValueError, match="interrupted") as failure:
                call_command("collectstatic", interactive=False, verbosity=0)
        finally:
            failed.undo()
        assert failure.traceback
        output = io.StringIO()
        call_command("collectstatic", interactive=False, verbosity=1, stdout=output)

    assert "Published to" in output.getvalue()
    assert "static/staticfiles.json" in s3.object_keys()
