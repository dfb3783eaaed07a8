"""Outside a collectstatic run, the class behaves as S3ManifestStaticStorage:
side by side with the stock class, same options, same bucket."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.test import override_settings
from storages.backends.s3 import S3ManifestStaticStorage

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.errors import SettingError

from .conftest import Deploy, S3Bucket, StaticSource

MANIFEST_KEY = "static/staticfiles.json"


def side_by_side(s3: S3Bucket, **options: Any) -> tuple[Any, Any]:
    """Ours and the stock class on the same bucket, without staged files."""
    with override_settings(STATIC_ROOT=None):
        return (
            ManifestSyncS3Storage(**s3.options(**options)),
            S3ManifestStaticStorage(**s3.stock_options(**options)),
        )


@pytest.mark.parametrize(
    "urls",
    [{"STATIC_URL": None}, {"STATIC_URL": "/assets/", "MEDIA_URL": "/assets/"}],
    ids=["STATIC_URL unset", "MEDIA_URL equals STATIC_URL"],
)
@pytest.mark.parametrize(
    "local_storage_class",
    [None, "whitenoise.storage.CompressedManifestStaticFilesStorage"],
    ids=["hashed by the storage", "hashed by whitenoise"],
)
def test_urls_from_s3_need_no_local_static_url(
    s3: S3Bucket,
    deploy: Deploy,
    urls: dict[str, Any],
    local_storage_class: str | None,
) -> None:
    options = {"custom_domain": "cdn.example.com"}
    if local_storage_class:
        options["local_storage_class"] = local_storage_class
    with override_settings(**urls):
        storage = deploy(**options)

    hashed = storage.hashed_files["css/site.css"]
    assert storage.url("css/site.css") == f"https://cdn.example.com/static/{hashed}"
    assert f"static/{hashed}" in s3.object_keys()


def test_run_time_reads_come_from_s3_as_with_the_stock_class(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    ours, stock = side_by_side(s3)
    name = "css/site.css"
    hashed = ours.hashed_files[name]

    for storage in (ours, stock):
        assert storage.exists(name)
        assert storage.exists(hashed)
        assert not storage.exists("css/absent.css")
        with storage.open(name) as opened:
            assert opened.read() == (static_source.root / name).read_bytes()
        assert storage.size(name) == (static_source.root / name).stat().st_size
        with pytest.raises(FileNotFoundError):
            storage.open("css/absent.css").read()
    assert ours.listdir("css") == stock.listdir("css")
    assert ours.get_modified_time(name) == stock.get_modified_time(name)
    with pytest.raises(NotImplementedError):
        ours.path(name)


def test_run_time_saves_and_deletes_reach_s3_and_overwrite(
    s3: S3Bucket, deploy: Deploy
) -> None:
    deploy()
    ours, stock = side_by_side(s3)

    for storage, name in ((ours, "generated/ours.txt"), (stock, "generated/stock.txt")):
        assert storage.save(name, ContentFile(b"first")) == name
        assert storage.save(name, ContentFile(b"second")) == name  # file_overwrite
        assert s3.get(f"static/{name}") == b"second"
        storage.delete(name)
        assert f"static/{name}" not in s3.object_keys()


def test_manifest_hash_is_the_stock_one_from_the_first_access(
    s3: S3Bucket, deploy: Deploy
) -> None:
    deployed = deploy()
    manifest = json.loads(s3.get(MANIFEST_KEY))
    assert deployed.manifest_hash == manifest["hash"] != ""

    ours, stock = side_by_side(s3)
    assert ours.manifest_hash == stock.manifest_hash == manifest["hash"]
    assert ours.load_manifest() == stock.load_manifest()


def test_hashed_files_can_be_patched_and_restored(s3: S3Bucket, deploy: Deploy) -> None:
    deploy()
    ours, _stock = side_by_side(s3)
    before = dict(ours.hashed_files)

    with mock.patch.object(ours, "hashed_files", {"css/site.css": "css/x.css"}):
        assert ours.url("css/site.css").endswith("/static/css/x.css")

    assert ours.hashed_files == before


def test_manifest_storage_is_read_and_written(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource, tmp_path: Path
) -> None:
    deploy()
    local = FileSystemStorage(location=str(tmp_path / "manifest"))
    local.save("staticfiles.json", ContentFile(s3.get(MANIFEST_KEY)))
    s3.clear_log()

    with override_settings(STATIC_ROOT=None):
        storage = ManifestSyncS3Storage(manifest_storage=local, **s3.options())
        assert storage.url("css/site.css").endswith(
            json.loads(s3.get(MANIFEST_KEY))["paths"]["css/site.css"]
        )
    assert s3.counts()["GET"] == 1  # the test's own read above, none by the storage


class ShortHashes(ManifestSyncS3Storage):
    """A user's subclass of the stock class, with its base class switched."""

    manifest_name = "assets.json"
    max_post_process_passes = 3

    def file_hash(self, name: str, content: Any = None) -> str | None:
        if content is None:
            return None
        digest = hashlib.sha256()
        for chunk in content.chunks():
            digest.update(chunk)
        return digest.hexdigest()[:8]


class LocalShortHashes(ManifestStaticFilesStorage):
    """The same customisation on Django's local storage, for reference."""

    manifest_name = "assets.json"
    max_post_process_passes = 3
    file_hash = ShortHashes.file_hash


def test_subclass_customisations_shape_the_local_pass(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource, tmp_path: Path
) -> None:
    storage = deploy(backend=f"{__name__}.ShortHashes")

    reference_root = tmp_path / "reference"
    with override_settings(STATICFILES_DIRS=[str(static_source.root)]):
        reference = LocalShortHashes(location=str(reference_root))
        paths = {
            path.relative_to(static_source.root).as_posix(): (
                FileSystemStorage(location=str(static_source.root)),
                path.relative_to(static_source.root).as_posix(),
            )
            for path in static_source.root.rglob("*")
            if path.is_file()
        }
        for name, (source, path) in paths.items():
            with source.open(path) as content:
                reference.save(name, content)
        for _result in reference.post_process(paths):
            pass

    expected = json.loads((reference_root / "assets.json").read_bytes())["paths"]
    assert storage.hashed_files == expected
    assert len(expected["css/site.css"].split(".")[-2]) == 8
    assert "static/assets.json" in s3.object_keys()
    assert "static/staticfiles.json" not in s3.object_keys()
    for hashed in expected.values():
        assert s3.get(f"static/{hashed}") == (reference_root / hashed).read_bytes()


def test_customised_hashing_with_a_local_storage_class_is_refused(
    s3: S3Bucket,
) -> None:
    with pytest.raises(SettingError) as refused:
        ShortHashes(
            **s3.options(
                local_storage_class="django.contrib.staticfiles.storage."
                "ManifestStaticFilesStorage"
            )
        )
    message = str(refused.value)
    assert "manifest_name" in message
    assert "file_hash" in message
    assert "local_storage_class" in message


def test_an_unknown_option_is_one_line_with_a_suggestion(s3: S3Bucket) -> None:
    with pytest.raises(SettingError) as refused:
        ManifestSyncS3Storage(**s3.options(upload_concurency=4))
    message = str(refused.value)
    assert "\n" not in message
    assert "'upload_concurency'" in message
    assert "Did you mean 'upload_concurrency'?" in message
