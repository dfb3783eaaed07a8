"""The URLs Django's hashing writes into CSS during a run are django-storages'
own, while botocore builds only the probes of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from storages.backends.s3 import S3Storage

from django_s3_manifest_storage.run_urls import PROBES

from .conftest import Deploy, S3Bucket, StaticSource

# A plain name and names botocore escapes.
REFERENCED = {
    "img/plain-icon.png": b"\x89PNG plain",
    "img/my icon.png": b"\x89PNG space",
    "img/caf\u00e9.png": b"\x89PNG accent",
    "img/@scope/a+b.png": b"\x89PNG punctuation",
    "img/x~y.png": b"\x89PNG tilde",
}


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names django-storages' own ``url()`` is asked for."""
    names: list[str] = []
    original = S3Storage.url

    def counting_url(self: S3Storage, name: str, *args: Any, **kwargs: Any) -> str:
        names.append(name)
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(S3Storage, "url", counting_url)
    return names


def write_referencing_css(static_source: StaticSource) -> None:
    # Each name twice: as it is, and with a query (as ckeditor's skins do).
    rules = "".join(
        f'.i{number} {{ background: url("../{name}"); }}\n'
        f'.q{number} {{ background: url("../{name}?t=4a1f&v=2"); }}\n'
        for number, name in enumerate(REFERENCED)
    )
    for name, content in REFERENCED.items():
        static_source.write(name, content)
    static_source.write("css/icons.css", rules.encode())


def stock_collect(s3: S3Bucket, static_source: StaticSource, **options: Any) -> None:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "storages.backends.s3.S3ManifestStaticStorage",
            "OPTIONS": s3.stock_options(**options),
        },
    }
    with override_settings(
        STATICFILES_DIRS=[str(static_source.root)], STORAGES=storages
    ):
        call_command("collectstatic", interactive=False, verbosity=0)


def rewritten_css(s3: S3Bucket, location: str) -> bytes:
    keys = [
        key
        for key in s3.object_keys(f"{location}/css/icons.")
        if key != f"{location}/css/icons.css"
    ]
    assert len(keys) == 1, keys
    return s3.get(keys[0])


@pytest.mark.parametrize(
    "options",
    [{}, {"custom_domain": "cdn.example.com"}],
    ids=["bucket-url", "custom-domain"],
)
def test_rewritten_urls_are_the_stock_ones(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    options: dict[str, Any],
) -> None:
    write_referencing_css(static_source)
    deploy(location="ours", **options)
    stock_collect(s3, static_source, location="stock", **options)

    ours = rewritten_css(s3, "ours")
    assert ours == rewritten_css(s3, "stock")
    # The plain name's reference is rewritten to its hashed name.
    assert b"plain-icon." in ours
    assert b"plain-icon.png" not in ours


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
def test_plain_names_skip_botocore(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    asked: list[str],
    incremental: bool,
    tmp_path: Path,
) -> None:
    write_referencing_css(static_source)
    deploy(incremental_hashing=incremental, staging_dir=tmp_path / "staging-dir")

    # The probes for the bucket's URL, and nothing else.
    assert asked == list(PROBES)


def test_signed_urls_are_all_django_storages_own(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    asked: list[str],
) -> None:
    # Each carries its own signature: none is joined from a base URL.
    write_referencing_css(static_source)
    deploy(querystring_auth=True)

    assert not set(PROBES) & set(asked)
    assert any("plain-icon." in name for name in asked)
    assert b"Signature=" in rewritten_css(s3, "static")
