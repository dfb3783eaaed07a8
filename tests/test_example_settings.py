"""The example project's settings switch between S3 and whitenoise."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

SETTINGS = Path(__file__).parent.parent / "example_project" / "example" / "settings.py"
WHITENOISE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


def example_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("STATIC_BACKEND", "STATIC_ROOT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_s3_is_the_default_and_hashes_as_whitenoise_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = example_settings(monkeypatch, STATIC_S3_BUCKET="bucket")

    staticfiles = settings["STORAGES"]["staticfiles"]
    assert staticfiles["BACKEND"] == "django_s3_manifest_storage.ManifestSyncS3Storage"
    assert staticfiles["OPTIONS"]["local_storage_class"] == WHITENOISE
    assert staticfiles["OPTIONS"]["bucket_name"] == "bucket"
    assert settings["STATIC_ROOT"] is None


def test_whitenoise_serves_from_static_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = example_settings(
        monkeypatch, STATIC_BACKEND="whitenoise", STATIC_ROOT=str(tmp_path)
    )

    assert settings["STORAGES"]["staticfiles"] == {"BACKEND": WHITENOISE}
    assert settings["STATIC_ROOT"] == str(tmp_path)
    assert settings["MIDDLEWARE"][0] == "whitenoise.middleware.WhiteNoiseMiddleware"


def test_an_unknown_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="STATIC_BACKEND"):
        example_settings(monkeypatch, STATIC_BACKEND="ftp")
