"""Options: django-storages' keys pass through, ours are validated."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_s3_manifest_storage import ManifestSyncS3Storage


def test_unknown_option_is_rejected_like_django_storages() -> None:
    with pytest.raises(ImproperlyConfigured, match="upload_threads"):
        ManifestSyncS3Storage(bucket_name="b", upload_threads=4)


@pytest.mark.parametrize("value", [0, -1, "16", 2.5, True])
def test_upload_concurrency_must_be_a_positive_integer(value: object) -> None:
    with pytest.raises(ImproperlyConfigured, match="upload_concurrency"):
        ManifestSyncS3Storage(bucket_name="b", upload_concurrency=value)


@pytest.mark.parametrize(
    "dotted_path",
    [
        "django.contrib.staticfiles.storage.StaticFilesStorage",
        "django.core.files.storage.FileSystemStorage",
        "no.such.module.Storage",
    ],
)
def test_local_storage_class_must_be_a_manifest_storage(dotted_path: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="local_storage_class"):
        ManifestSyncS3Storage(bucket_name="b", local_storage_class=dotted_path)


def test_connection_pool_fits_the_upload_threads() -> None:
    storage = ManifestSyncS3Storage(bucket_name="b", upload_concurrency=40)
    assert storage.client_config.max_pool_connections == 40


def test_leading_slash_in_location_is_rejected() -> None:
    with pytest.raises(ImproperlyConfigured, match="location"):
        ManifestSyncS3Storage(bucket_name="b", location="/static")
