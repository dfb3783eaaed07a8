"""whitenoise's keep-only-hashed mode (``WHITENOISE_KEEP_ONLY_HASHED_FILES``)
with incremental hashing and kept releases: every deploy leaves on S3 what a
local whitenoise collection of the same sources holds, and what the kept
release still needs; verify and rollback accept what whitenoise removes."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from .conftest import Deploy, S3Bucket, StaticSource

pytest.importorskip("whitenoise")

WHITENOISE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
OPTIONS = {
    "local_storage_class": WHITENOISE,
    "keep_releases": 2,
    "incremental_hashing": True,
}
RECORDS = "static/staticfiles.json"  # the manifest, its record and history
MANIFEST_KEY = "static/staticfiles.json"


@pytest.fixture(autouse=True)
def keep_only_hashed() -> Iterator[None]:
    with override_settings(WHITENOISE_KEEP_ONLY_HASHED_FILES=True):
        yield


@pytest.fixture
def many_files(static_source: StaticSource) -> StaticSource:
    """Dozens of files besides the CSS, so that most are untouched by a change."""
    for number in range(20):
        static_source.write(
            f"lib/module{number}.js",
            f"export const module{number} = {number};\n".encode() * 30,
        )
        static_source.write(
            f"img/icon{number}.png", b"\x89PNG\r\n\x1a\n icon %d" % number
        )
    return static_source


@pytest.fixture
def whitenoise_collection(
    static_source: StaticSource, tmp_path: Path
) -> Callable[[], dict[str, bytes]]:
    """What a local whitenoise collectstatic writes for the sources."""

    def collect() -> dict[str, bytes]:
        root = tmp_path / f"whitenoise-{uuid.uuid4().hex[:8]}"
        with override_settings(
            STATICFILES_DIRS=[str(static_source.root)],
            STATIC_ROOT=str(root),
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {"BACKEND": WHITENOISE},
            },
        ):
            call_command("collectstatic", interactive=False, verbosity=0)
        return {
            f"static/{path.relative_to(root).as_posix()}": path.read_bytes()
            for path in root.rglob("*")
            if path.is_file()
        }

    return collect


def published(collection: dict[str, bytes]) -> dict[str, bytes]:
    """A collection's objects besides the manifest (compared on its paths)."""
    return {key: body for key, body in collection.items() if key != MANIFEST_KEY}


def paths_of(manifest: bytes) -> dict[str, str]:
    paths: dict[str, str] = json.loads(manifest)["paths"]
    return paths


def deploy_and_check(
    s3: S3Bucket,
    deploy: Deploy,
    collect: Callable[[], dict[str, bytes]],
    previous: dict[str, bytes] | None,
    storage_settings: Callable[..., override_settings],
    *,
    verify: bool,
) -> tuple[dict[str, bytes], str]:
    before = s3.objects()
    s3.clear_log()
    output = io.StringIO()
    storage = deploy(**OPTIONS, command_options={"verbosity": 1, "stdout": output})
    report = storage.last_publish
    after = s3.objects()
    expected = collect()

    # Exactly a local whitenoise collection, the kept release's objects and
    # this package's records.
    needed = published(expected) | published(previous or {})
    assert {key for key in after if not key.startswith(RECORDS)} == set(needed)
    for key, body in published(expected).items():
        assert after[key] == body, key
    assert paths_of(after[MANIFEST_KEY]) == paths_of(expected[MANIFEST_KEY])
    changed = sorted(key for key in after if before.get(key) != after[key])
    assert f" {len(report.uploaded)} file(s) uploaded" in output.getvalue()
    if s3.server is not None:
        # What was sent is what changed, and the summary counts it (request
        # counts need the bundled server; the rest runs on any endpoint).
        sent = s3.put_keys()
        assert sorted(sent) == changed
        assert len(report.uploaded) == len(sent)
    if not verify:
        return expected, output.getvalue()
    # The live release is complete.
    verified = io.StringIO()
    with storage_settings(**OPTIONS):
        call_command("staticreleases", verify=True, stdout=verified)
    assert "is complete" in verified.getvalue()
    return expected, output.getvalue()


def three_releases(
    s3: S3Bucket,
    deploy: Deploy,
    source: StaticSource,
    collect: Callable[[], dict[str, bytes]],
    storage_settings: Callable[..., override_settings],
    *,
    verify: bool,
) -> list[dict[str, bytes]]:
    """A first deploy, a change to a CSS file another one @imports, a change
    to an image that CSS references: each checked by ``deploy_and_check``."""
    release_1, _output = deploy_and_check(
        s3, deploy, collect, None, storage_settings, verify=verify
    )
    assert not [key for key in release_1 if key.endswith("/module0.js")]
    # print.css imports site.css.
    source.write("css/site.css", b"body { color: red; }\n")
    release_2, output = deploy_and_check(
        s3, deploy, collect, release_1, storage_settings, verify=verify
    )
    assert "Hashing: incremental" in output
    source.write("img/bg.png", b"\x89PNG\r\n\x1a\n background v2")
    source.write(
        "css/site.css", b'body { background: url("../img/bg.png"); color: red; }\n'
    )
    release_3, output = deploy_and_check(
        s3, deploy, collect, release_2, storage_settings, verify=verify
    )
    assert "Hashing: incremental" in output
    return [release_1, release_2, release_3]


def test_each_deploy_publishes_what_whitenoise_keeps(
    s3: S3Bucket,
    deploy: Deploy,
    many_files: StaticSource,
    whitenoise_collection: Callable[[], dict[str, bytes]],
    storage_settings: Callable[..., override_settings],
) -> None:
    releases = three_releases(
        s3, deploy, many_files, whitenoise_collection, storage_settings, verify=False
    )
    assert (
        len({paths_of(release[MANIFEST_KEY])["css/site.css"] for release in releases})
        == 3
    )


def test_verify_passes_and_rollback_restores_a_complete_release(
    s3: S3Bucket,
    deploy: Deploy,
    many_files: StaticSource,
    whitenoise_collection: Callable[[], dict[str, bytes]],
    storage_settings: Callable[..., override_settings],
) -> None:
    _release_1, release_2, _release_3 = three_releases(
        s3, deploy, many_files, whitenoise_collection, storage_settings, verify=True
    )

    rolled = io.StringIO()
    with storage_settings(**OPTIONS):
        call_command("staticreleases", rollback="-1", stdout=rolled)
        verified = io.StringIO()
        call_command("staticreleases", verify=True, stdout=verified)
    assert "Made live release" in rolled.getvalue()
    assert "is complete" in verified.getvalue()
    held = s3.objects()
    assert paths_of(held[MANIFEST_KEY]) == paths_of(release_2[MANIFEST_KEY])
    for key, body in published(release_2).items():
        assert held.get(key) == body, key


def test_a_full_pass_says_how_many_originals_were_not_published(
    s3: S3Bucket, deploy: Deploy, many_files: StaticSource
) -> None:
    sources = [path for path in many_files.root.rglob("*") if path.is_file()]
    assert len(sources) > 40
    output = io.StringIO()

    storage = deploy(**OPTIONS, command_options={"verbosity": 1, "stdout": output})

    assert storage.last_publish.hashing.incremental is False
    originals = {
        f"static/{path.relative_to(many_files.root).as_posix()}" for path in sources
    }
    assert originals.isdisjoint(s3.object_keys("static/"))
    assert (
        f"{len(sources):,} originals not published (WHITENOISE_KEEP_ONLY_HASHED_FILES)"
        in output.getvalue()
    )
