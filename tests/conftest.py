"""Fixtures: a real S3 endpoint over loopback, a bucket per test, a static
source tree, and a ``deploy`` helper that runs the stock collectstatic.

By default moto's S3 runs in server mode on 127.0.0.1, started here. Point the
suite at another S3-compatible endpoint (MinIO, AWS) with
``S3_TEST_ENDPOINT_URL``, ``S3_TEST_ACCESS_KEY_ID``,
``S3_TEST_SECRET_ACCESS_KEY`` and ``S3_TEST_REGION``; assertions on request
counts and injected faults need the bundled server and are skipped there.

What many S3-compatible stores need from the client can be switched on for
the whole suite, against the bundled server or another endpoint:
``S3_TEST_ADDRESSING_STYLE=path`` and
``S3_TEST_CHECKSUM_CALCULATION=when_required`` (botocore's
``request_checksum_calculation`` and ``response_checksum_validation``). They
reach the storage as ``client_config``, as a user would set them.

``S3_TEST_UPLOAD_ENGINE`` (``boto3`` or ``obstore``) sets the storage's
``upload_engine`` option for the whole suite (nox sessions ``tests`` and
``tests_obstore``); unset, the default ``auto`` applies.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.test import override_settings

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.testing.s3_server import Fault, LocalS3Server

# Never read the developer's AWS configuration or reach a metadata service.
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.pop("AWS_PROFILE", None)

EXTERNAL_ENDPOINT = os.environ.get("S3_TEST_ENDPOINT_URL")
ACCESS_KEY = os.environ.get("S3_TEST_ACCESS_KEY_ID", "testing-access-key")
SECRET_KEY = os.environ.get("S3_TEST_SECRET_ACCESS_KEY", "testing-secret-key")
REGION = os.environ.get("S3_TEST_REGION", "us-east-1")
BACKEND = "django_s3_manifest_storage.ManifestSyncS3Storage"
ADDRESSING_STYLE = os.environ.get("S3_TEST_ADDRESSING_STYLE")
CHECKSUM_CALCULATION = os.environ.get("S3_TEST_CHECKSUM_CALCULATION")
UPLOAD_ENGINE = os.environ.get("S3_TEST_UPLOAD_ENGINE")


def client_config_from_environment() -> Config | None:
    """The botocore Config the S3_TEST_* variables ask for, if any."""
    settings = client_config_settings()
    return Config(**settings) if settings else None


def client_config_settings() -> dict[str, Any]:
    """The keyword arguments of that Config (for settings written as code)."""
    settings: dict[str, Any] = {}
    if ADDRESSING_STYLE:
        settings["s3"] = {"addressing_style": ADDRESSING_STYLE}
    if CHECKSUM_CALCULATION:
        settings["request_checksum_calculation"] = CHECKSUM_CALCULATION
        settings["response_checksum_validation"] = CHECKSUM_CALCULATION
    return settings


@pytest.fixture(autouse=True, scope="session")
def shared_service_models() -> Iterator[None]:
    """Every storage builds its own boto3 session, as django-storages does.
    Here they share botocore's loader of service models, so each of the
    suite's hundreds of storages does not parse the same JSON again (about
    80 ms each); clients, credentials and connections stay their own."""
    loader = botocore.session.get_session().get_component("data_loader")
    original = boto3.session.Session.__init__

    def init(self: boto3.session.Session, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._session.register_component("data_loader", loader)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(boto3.session.Session, "__init__", init)
        yield


@pytest.fixture(autouse=True)
def quick_upload_retry_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two short rounds of retrying failed uploads instead of the default
    31 s of pauses; tests of the rounds themselves set their own."""
    monkeypatch.setattr(ManifestSyncS3Storage, "upload_retry_delays", (0.01, 0.01))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[LocalS3Server | None]:
    if EXTERNAL_ENDPOINT:
        yield None
        return
    with LocalS3Server() as server:
        yield server


@dataclass
class S3Bucket:
    """A fresh bucket and what the server saw."""

    endpoint_url: str
    name: str
    server: LocalS3Server | None
    client: Any = field(repr=False)

    def options(self, **overrides: Any) -> dict[str, Any]:
        """django-storages OPTIONS pointing at this bucket."""
        client_config = client_config_from_environment()
        return {
            "bucket_name": self.name,
            "endpoint_url": self.endpoint_url,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "region_name": REGION,
            "location": "static",
            **({"client_config": client_config} if client_config else {}),
            **({"upload_engine": UPLOAD_ENGINE} if UPLOAD_ENGINE else {}),
            **overrides,
        }

    def stock_options(self, **overrides: Any) -> dict[str, Any]:
        """``options()`` for django-storages' own classes: without this
        package's options, which they refuse."""
        options = self.options(**overrides)
        options.pop("upload_engine", None)
        return options

    @property
    def bundled_server(self) -> LocalS3Server:
        if self.server is None:
            pytest.skip("request counts and faults need the bundled S3 server")
        return self.server

    def counts(self) -> Counter[str]:
        return self.bundled_server.counts()

    def clear_log(self) -> None:
        if self.server is not None:
            self.server.clear_log()

    def put_keys(self) -> list[str]:
        """Keys of this bucket's PUT requests, in the order the server got them."""
        return [
            request.key
            for request in self.bundled_server.requests
            if request.method == "PUT" and request.bucket == self.name
        ]

    def add_fault(self, fault: Fault) -> Fault:
        return self.bundled_server.add_fault(fault)

    @contextlib.contextmanager
    def refusing_wrong_secrets(self) -> Iterator[str]:
        """A block in which a request signed with a wrong secret key is
        refused; yields the error code the server answers with. A real server
        knows the suite's access key and refuses the signature. moto checks
        signatures only when told to, and only for keys it issued itself, so
        it refuses the key as unknown."""
        if self.server is None:
            yield "SignatureDoesNotMatch"
            return
        with self.server.checking_credentials():
            yield "InvalidAccessKeyId"

    def object_keys(self, prefix: str = "") -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        return [
            entry["Key"]
            for page in paginator.paginate(Bucket=self.name, Prefix=prefix)
            for entry in page.get("Contents", ())
        ]

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        return {key: self.get(key) for key in self.object_keys(prefix)}

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return body

    def head(self, key: str) -> dict[str, Any]:
        response: dict[str, Any] = self.client.head_object(Bucket=self.name, Key=key)
        return response

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=body)


@pytest.fixture(scope="session")
def s3_endpoint(s3_server: LocalS3Server | None) -> str:
    return EXTERNAL_ENDPOINT or (s3_server.endpoint_url if s3_server else "")


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> Any:
    """One client for the whole session: building a boto3 client loads the
    service model, which costs more than most tests' requests."""
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=client_config_from_environment(),
    )


@pytest.fixture
def s3(
    s3_server: LocalS3Server | None, s3_endpoint: str, s3_client: Any
) -> Iterator[S3Bucket]:
    bucket = S3Bucket(
        s3_endpoint, f"test-{uuid.uuid4().hex[:20]}", s3_server, s3_client
    )
    s3_client.create_bucket(Bucket=bucket.name)
    if s3_server is not None:
        s3_server.clear_faults()
        s3_server.clear_log()
    yield bucket
    if s3_server is not None:
        # Each test has a bucket of its own on a server that lives as long as
        # this process: nothing to tidy up.
        s3_server.clear_faults()
        return
    delete_bucket(s3_client, bucket)


def delete_bucket(client: Any, bucket: S3Bucket) -> None:
    """Empty and delete a bucket on an external endpoint, 1,000 keys a request."""
    keys = bucket.object_keys()
    for start in range(0, len(keys), 1000):
        client.delete_objects(
            Bucket=bucket.name,
            Delete={
                "Objects": [{"Key": key} for key in keys[start : start + 1000]],
                "Quiet": True,
            },
        )
    client.delete_bucket(Bucket=bucket.name)


# A small project: CSS that references an image, a font and other CSS, so
# that hashing rewrites references and changes propagate.
SOURCE_FILES: dict[str, bytes] = {
    "css/site.css": (
        b'@font-face { font-family: "Icons"; src: url("../fonts/icons.woff2"); }\n'
        b'body { background: url("../img/bg.png"); font-family: "Icons"; }\n'
    ),
    "css/print.css": b'@import url("site.css");\nbody { color: black; }\n',
    "css/plain.css": b"p { margin: 0; }\n",
    "img/bg.png": b"\x89PNG\r\n\x1a\n background v1",
    "img/logo.png": b"\x89PNG\r\n\x1a\n logo",
    "fonts/icons.woff2": b"wOF2 font bytes",
    "js/app.js": b'console.log("app");\n',
    "data/config.json": b'{"enabled": true}\n',
}


@dataclass
class StaticSource:
    root: Path

    def write(self, name: str, content: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    def names(self) -> list[str]:
        """Every source file, relative, with ``/``."""
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in self.root.rglob("*")
            if path.is_file()
        )

    def touch_all(self) -> None:
        """Make every source newer than anything collected, as a fresh checkout."""
        later = time.time() + 3600
        for path in self.root.rglob("*"):
            os.utime(path, (later, later))


@pytest.fixture
def static_source(tmp_path: Path) -> StaticSource:
    source = StaticSource(tmp_path / "source")
    for name, content in SOURCE_FILES.items():
        source.write(name, content)
    return source


# Compressible files that are neither CSS nor JS: whitenoise writes .gz
# variants of their unhashed originals as well as of their hashed names.
COMPRESSIBLE = {
    "img/logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'>"
    + b" " * 400
    + b"</svg>",
    "docs/readme.txt": b"read me\n" * 100,
    "data/table.json": b'{"rows": [' + b"1, " * 200 + b"1]}",
    "js/app.js.map": b'{"version": 3, "mappings": "' + b"AAAA;" * 100 + b'"}',
}


@pytest.fixture
def compressible_source(static_source: StaticSource) -> StaticSource:
    for name, content in COMPRESSIBLE.items():
        static_source.write(name, content)
    return static_source


Deploy = Callable[..., Any]

# Incremental hashing is off unless a test turns it on: its record is one
# more object on S3, which the tests that compare the bucket with a plain
# local collection, or count PUTs, do not expect. tests/test_incremental.py
# covers it.
WITHOUT_RECORD = {"incremental_hashing": False}


@pytest.fixture
def deploy(s3: S3Bucket, static_source: StaticSource) -> Deploy:
    """Run ``collectstatic`` with ManifestSyncS3Storage; return the storage."""

    def run(
        *,
        static_root: Path | None = None,
        backend: str = BACKEND,
        dry_run: bool = False,
        command_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        storages = {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": backend,
                "OPTIONS": s3.options(**{**WITHOUT_RECORD, **options}),
            },
        }
        with override_settings(
            STATICFILES_DIRS=[str(static_source.root)],
            STATIC_ROOT=str(static_root) if static_root else None,
            STORAGES=storages,
        ):
            call_command(
                "collectstatic",
                interactive=False,
                dry_run=dry_run,
                **{"verbosity": 0, **(command_options or {})},
            )
            return staticfiles_storage._wrapped

    return run


@pytest.fixture
def storage_settings(
    s3: S3Bucket, static_source: StaticSource
) -> Callable[..., override_settings]:
    """The settings ``deploy`` runs under, for other commands:
    ``with storage_settings(keep_releases=2): call_command(...)``."""

    def settings(
        *, static_root: Path | None = None, backend: str = BACKEND, **options: Any
    ) -> override_settings:
        storages = {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": backend,
                "OPTIONS": s3.options(**{**WITHOUT_RECORD, **options}),
            },
        }
        return override_settings(
            STATICFILES_DIRS=[str(static_source.root)],
            STATIC_ROOT=str(static_root) if static_root else None,
            STORAGES=storages,
        )

    return settings


@pytest.fixture
def reference_collection(
    static_source: StaticSource, tmp_path: Path
) -> Callable[[], dict[str, bytes]]:
    """What plain ManifestStaticFilesStorage writes locally for the source."""

    def collect() -> dict[str, bytes]:
        root = tmp_path / f"reference-{uuid.uuid4().hex[:8]}"
        storages = {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage."
                "ManifestStaticFilesStorage"
            },
        }
        with override_settings(
            STATICFILES_DIRS=[str(static_source.root)],
            STATIC_ROOT=str(root),
            STORAGES=storages,
        ):
            call_command("collectstatic", interactive=False, verbosity=0)
        return {
            path.relative_to(root).as_posix(): path.read_bytes()
            for path in root.rglob("*")
            if path.is_file()
        }

    return collect


def saves_failing_at(call: int) -> Callable[..., str]:
    """A ``save`` for ManifestSyncS3Storage that raises on its ``call``-th
    use: collectstatic stops in its copy loop, before post-processing."""
    original = ManifestSyncS3Storage.save
    calls = 0

    def save(self: Any, name: Any, content: Any, max_length: Any = None) -> str:
        nonlocal calls
        calls += 1
        if calls == call:
            raise ValueError("interrupted")
        return original(self, name, content, max_length)

    return save
