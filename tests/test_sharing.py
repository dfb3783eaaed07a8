"""The location on S3 is shared: apps save files there at run time, people put
files there by hand, subclasses save through the storage their own way.
Retention deletes only what a release published; ``--clear`` empties the
location; staging overwrites like S3; ``staticreleases`` runs only the
staticfiles checks."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import checks
from django.core.checks.registry import registry
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.test import override_settings

from django_s3_manifest_storage import ManifestSyncS3Storage

from .conftest import Deploy, S3Bucket, StaticSource

MANIFEST_KEY = "static/staticfiles.json"
FOREIGN = {
    "static/uploads/avatar.png": b"\x89PNG\r\n\x1a\n saved at run time",
    "static/robots.txt": b"User-agent: *\nDisallow:\n",
}


def summary_of(output: io.StringIO) -> str:
    [line] = [
        line for line in output.getvalue().splitlines() if line.startswith("Published")
    ]
    return line


def paths_on_s3(s3: S3Bucket) -> dict[str, str]:
    paths: dict[str, str] = json.loads(s3.get(MANIFEST_KEY))["paths"]
    return paths


def test_retention_leaves_alone_what_no_release_published_and_clear_does_not(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy(keep_releases=1)
    release_1 = paths_on_s3(s3)
    # Written at run time through the storage, and by hand.
    at_run_time = ManifestSyncS3Storage(**s3.options())
    saved = at_run_time.save(
        "uploads/avatar.png", ContentFile(FOREIGN["static/uploads/avatar.png"])
    )
    assert saved == "uploads/avatar.png"
    s3.put("static/robots.txt", FOREIGN["static/robots.txt"])

    for number in (2, 3):
        static_source.write("css/plain.css", f"p {{ order: {number}; }}\n".encode())
        output = io.StringIO()
        deploy(keep_releases=1, command_options={"verbosity": 1, "stdout": output})

        held = s3.objects()
        for key, body in FOREIGN.items():
            assert held.get(key) == body, key
        assert (
            f"2 object(s) under s3://{s3.name}/static belong to no release; "
            "left alone" in summary_of(output)
        )
    # Retention did prune: release 1's own hashed file is gone.
    assert f"static/{release_1['css/plain.css']}" not in held

    s3.clear_log()
    deploy(keep_releases=1, command_options={"clear": True})

    held = s3.objects()
    live = paths_on_s3(s3)
    collection = {f"static/{name}" for name in (*live, *live.values())}
    assert collection <= set(held)
    for key in FOREIGN:
        assert key not in held
    assert {
        key
        for key in held
        if key not in collection and not key.startswith(MANIFEST_KEY)
    } == set()
    # Deleted after the new manifest was live.
    requests = s3.bundled_server.requests
    deletes = [i for i, r in enumerate(requests) if r.method in {"POST", "DELETE"}]
    assert deletes
    manifest_puts = [
        i for i, r in enumerate(requests) if r.method == "PUT" and r.key == MANIFEST_KEY
    ]
    assert not manifest_puts or manifest_puts[-1] < deletes[0]


class SavesLocallyToo(ManifestSyncS3Storage):
    """Writes every file it saves into STATIC_ROOT itself first, then through
    the storage (as django-compressor's cached S3 storage recipe does)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.local_storage = FileSystemStorage(
            location=settings.STATIC_ROOT, allow_overwrite=True
        )

    def _save(self, name: str, content: Any) -> str:
        self.local_storage.save(name, content)
        with self.local_storage.open(name) as local:
            return str(super()._save(name, local))


def test_a_subclass_overriding_underscore_save_stages_and_uploads_no_renamed_file(
    s3: S3Bucket,
    deploy: Deploy,
    tmp_path: Path,
    reference_collection: Callable[[], dict[str, bytes]],
) -> None:
    static_root = tmp_path / "static_root"

    # The collection stays on disk in STATIC_ROOT, where the subclass writes.
    deploy(
        backend=f"{__name__}.SavesLocallyToo",
        static_root=static_root,
        staging_dir=str(static_root),
    )

    expected = reference_collection()
    staged = {
        path.relative_to(static_root).as_posix(): path.read_bytes()
        for path in static_root.rglob("*")
        if path.is_file()
    }
    assert set(staged) == set(expected)
    held = s3.objects()
    assert set(held) == {f"static/{name}" for name in expected}
    for name, body in expected.items():
        assert held[f"static/{name}"] == body, name
    assert len(s3.put_keys()) == len(expected)
    assert "static/staticfiles.json.pending" not in held


@pytest.fixture
def failing_checks() -> Iterator[list[str]]:
    """A failing check tagged ``staticfiles`` and one of another app's, each
    registered while the test asks (``failing_checks.append(tag)``)."""
    tags: list[str] = []

    def unrelated(**kwargs: Any) -> list[checks.CheckMessage]:
        if "unrelated" not in tags:
            return []
        return [checks.Error("An unrelated app is misconfigured.", id="other.E001")]

    def staticfiles(**kwargs: Any) -> list[checks.CheckMessage]:
        if "staticfiles" not in tags:
            return []
        return [checks.Error("Static files are misconfigured.", id="static.E001")]

    registry.register(unrelated, "models")
    registry.register(staticfiles, checks.Tags.staticfiles)
    try:
        yield tags
    finally:
        registry.registered_checks.discard(unrelated)
        registry.registered_checks.discard(staticfiles)


def test_staticreleases_runs_only_the_staticfiles_checks(
    s3: S3Bucket,
    deploy: Deploy,
    storage_settings: Callable[..., override_settings],
    failing_checks: list[str],
) -> None:
    deploy()
    failing_checks.append("unrelated")
    s3.clear_log()

    with storage_settings():
        # collectstatic ignores another app's check; so must the command.
        call_command("collectstatic", interactive=False, verbosity=0, skip_checks=False)
        output = io.StringIO()
        call_command("staticreleases", verify=True, stdout=output, skip_checks=False)
        assert "is complete" in output.getvalue()
        assert s3.counts()["GET"] >= 1

        failing_checks.append("staticfiles")
        with pytest.raises(SystemCheckError) as failed:
            call_command("staticreleases", verify=True, skip_checks=False)
    assert "static.E001" in str(failed.value)
    assert "other.E001" not in str(failed.value)


def test_the_stock_class_clear_deletes_nothing_on_s3(
    s3: S3Bucket, static_source: StaticSource
) -> None:
    """What the documentation says of django-storages' own ``--clear``:
    collectstatic asks ``exists("")`` before clearing, a HEAD of the prefix,
    which S3 answers 404, so clearing deletes nothing (django-storages 1.14).
    The deletes it makes are collectstatic's own, of each file it copies
    again."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "storages.backends.s3.S3ManifestStaticStorage",
            "OPTIONS": s3.stock_options(),
        },
    }
    with override_settings(
        STATICFILES_DIRS=[str(static_source.root)], STORAGES=storages
    ):
        call_command("collectstatic", interactive=False, verbosity=0)
        s3.put("static/robots.txt", FOREIGN["static/robots.txt"])
        stale = f"static/{paths_on_s3(s3)['css/plain.css']}"
        static_source.write("css/plain.css", b"p { order: 2; }\n")
        s3.clear_log()
        call_command("collectstatic", interactive=False, verbosity=0, clear=True)

    held = s3.objects()
    requests = s3.bundled_server.requests
    deleted = {request.key for request in requests if request.method == "DELETE"}
    put = {request.key for request in requests if request.method == "PUT"}
    assert deleted
    assert deleted <= put
    assert held["static/robots.txt"] == FOREIGN["static/robots.txt"]
    assert stale in held


def test_link_is_refused_as_the_stock_class_refuses_it(
    s3: S3Bucket, storage_settings: Callable[..., override_settings]
) -> None:
    s3.clear_log()

    with storage_settings(), pytest.raises(CommandError) as refused:
        call_command("collectstatic", interactive=False, verbosity=0, link=True)

    assert str(refused.value) == "Can't symlink to a remote destination."
    assert sum(s3.counts().values()) == 0
