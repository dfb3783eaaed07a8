"""What moving the package's modules must not change: the hashing context's
digest (a change would make the first deploy after an upgrade a full pass)."""

from __future__ import annotations

from typing import Any

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.collect.hashing import (
    HASHING_ATTRIBUTES,
    _digest,
    collection_context,
    hashing_description,
)


class CustomHash(ManifestSyncS3Storage):
    """A project's subclass: its own hashing method counts."""

    def file_hash(self, name: str, content: Any = None) -> str:
        return "fixed"


def test_the_package_class_is_described_by_django_alone() -> None:
    # Exactly what the description held before the package was split into
    # layers: the class path, Django's hashing attributes, and no method of
    # the package counted as a project's override.
    expected = {
        "class": "django_s3_manifest_storage.storage.ManifestSyncS3Storage",
        "options": {},
        "attributes": {
            name: getattr(ManifestStaticFilesStorage, name, None)
            for name in HASHING_ATTRIBUTES
        },
        "overridden": {},
    }

    assert hashing_description(ManifestSyncS3Storage, {}) == expected
    assert collection_context(ManifestSyncS3Storage, {})["hashing"] == _digest(expected)


def test_only_a_project_subclass_method_is_an_override() -> None:
    overridden = hashing_description(CustomHash, {})["overridden"]

    assert list(overridden) == [f"{__name__}.CustomHash.file_hash"]
