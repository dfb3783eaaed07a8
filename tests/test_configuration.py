"""Bad configuration fails before the local hashing and names the setting to
fix; what can be checked without the network is a system check."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import Error, Tags, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.errors import PublishError, SettingError
from django_s3_manifest_storage.testing.s3_server import Fault

from .conftest import BACKEND, Deploy, S3Bucket, StaticSource

BUCKET_SETTING = (
    "STORAGES['staticfiles']['OPTIONS']['bucket_name'] / AWS_STORAGE_BUCKET_NAME"
)
ENDPOINT_SETTING = (
    "STORAGES['staticfiles']['OPTIONS']['endpoint_url'] / AWS_S3_ENDPOINT_URL"
)
SECRET_KEY_SETTING = (
    "STORAGES['staticfiles']['OPTIONS']['secret_key'] / AWS_S3_SECRET_ACCESS_KEY"
)


def hashed_anything(staging_dir: Path) -> bool:
    """Whether the local post-processing ran (it writes the manifest)."""
    return (staging_dir / "staticfiles.json").exists()


def test_no_bucket_name_fails_before_any_request(
    s3: S3Bucket, deploy: Deploy, tmp_path: Path
) -> None:
    staging_dir = tmp_path / "staging_dir"

    with pytest.raises(SettingError) as failure:
        deploy(staging_dir=staging_dir, bucket_name=None)

    assert BUCKET_SETTING in str(failure.value)
    assert isinstance(failure.value, ImproperlyConfigured)
    assert not hashed_anything(staging_dir)
    assert sum(s3.counts().values()) == 0


def test_bucket_that_does_not_exist_fails_on_the_manifest_read(
    s3: S3Bucket, deploy: Deploy, tmp_path: Path
) -> None:
    staging_dir = tmp_path / "staging_dir"

    with pytest.raises(PublishError) as failure:
        deploy(staging_dir=staging_dir, bucket_name="no-such-bucket-here")

    message = str(failure.value)
    assert "s3://no-such-bucket-here/static/staticfiles.json" in message
    assert "NoSuchBucket (HTTP 404)" in message
    assert BUCKET_SETTING in message
    assert not hashed_anything(staging_dir)
    # Not retried: a missing bucket does not appear by waiting.
    assert s3.counts() == {"GET": 1}


def test_wrong_credentials_fail_on_the_manifest_read(
    s3: S3Bucket, deploy: Deploy, tmp_path: Path
) -> None:
    staging_dir = tmp_path / "staging_dir"

    with (
        s3.bundled_server.checking_credentials(),
        pytest.raises(PublishError) as failure,
    ):
        deploy(
            staging_dir=staging_dir,
            access_key="AKIAWRONGWRONGWRONG1",
            secret_key="wrong-secret",
        )

    message = str(failure.value)
    assert "InvalidAccessKeyId (HTTP 403)" in message
    assert SECRET_KEY_SETTING in message
    assert not hashed_anything(staging_dir)
    assert s3.counts() == {"GET": 1}


def test_refused_signature_names_the_credentials_settings(
    s3: S3Bucket, deploy: Deploy, tmp_path: Path
) -> None:
    s3.add_fault(Fault("GET", status=403, code="SignatureDoesNotMatch"))
    staging_dir = tmp_path / "staging_dir"

    with pytest.raises(PublishError) as failure:
        deploy(staging_dir=staging_dir)

    assert "SignatureDoesNotMatch (HTTP 403)" in str(failure.value)
    assert SECRET_KEY_SETTING in str(failure.value)
    assert not hashed_anything(staging_dir)


def test_no_credentials_anywhere_names_the_credentials_settings(
    s3: S3Bucket, deploy: Deploy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The suite already hides the AWS config files and the metadata service.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    staging_dir = tmp_path / "staging_dir"

    with pytest.raises(PublishError) as failure:
        deploy(staging_dir=staging_dir, access_key=None, secret_key=None)

    message = str(failure.value)
    assert "NoCredentialsError" in message
    assert "['access_key'] / AWS_S3_ACCESS_KEY_ID" in message
    assert SECRET_KEY_SETTING in message
    assert not hashed_anything(staging_dir)
    assert sum(s3.counts().values()) == 0  # nothing sent unsigned


def test_a_bucket_in_another_region_names_region_name(
    s3: S3Bucket, deploy: Deploy, tmp_path: Path
) -> None:
    fault = s3.add_fault(
        Fault(
            "GET",
            r"staticfiles\.json$",
            status=400,
            code="AuthorizationHeaderMalformed",
        )
    )
    staging_dir = tmp_path / "staging_dir"

    with pytest.raises(PublishError) as failure:
        deploy(staging_dir=staging_dir)

    message = str(failure.value)
    assert "AuthorizationHeaderMalformed (HTTP 400)" in message
    assert "STORAGES['staticfiles']['OPTIONS']['region_name']" in message
    # Not retried: the region does not change by waiting.
    assert fault.hits == 1
    assert s3.counts() == {"GET": 1}
    assert not hashed_anything(staging_dir)


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_endpoint_refusing_connections_fails_and_names_endpoint_url(
    s3: S3Bucket, deploy: Deploy, tmp_path: Path
) -> None:
    staging_dir = tmp_path / "staging_dir"
    endpoint = f"http://127.0.0.1:{closed_port()}"

    with pytest.raises(PublishError) as failure:
        deploy(staging_dir=staging_dir, endpoint_url=endpoint)

    message = str(failure.value)
    assert "EndpointConnectionError" in message
    assert endpoint in message
    assert ENDPOINT_SETTING in message
    assert not hashed_anything(staging_dir)


def test_endpoint_whose_name_does_not_resolve_fails_and_names_endpoint_url(
    s3: S3Bucket, deploy: Deploy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ".invalid" never resolves (RFC 2606); answer here, never ask a resolver.
    looked_up: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host).endswith(".invalid"):
            looked_up.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    staging_dir = tmp_path / "staging_dir"

    with pytest.raises(PublishError) as failure:
        deploy(staging_dir=staging_dir, endpoint_url="http://s3.example.invalid")

    assert looked_up
    message = str(failure.value)
    assert "EndpointConnectionError" in message
    assert "s3.example.invalid" in message
    assert ENDPOINT_SETTING in message
    assert not hashed_anything(staging_dir)


def test_location_with_a_leading_slash_fails_before_any_request(
    s3: S3Bucket, deploy: Deploy
) -> None:
    with pytest.raises(SettingError) as failure:
        deploy(location="/static")

    assert "STORAGES['staticfiles']['OPTIONS']['location'] / AWS_LOCATION" in str(
        failure.value
    )
    assert "'static'" in str(failure.value)
    assert sum(s3.counts().values()) == 0


def test_local_storage_class_without_a_manifest_fails_before_any_request(
    s3: S3Bucket, deploy: Deploy
) -> None:
    with pytest.raises(ImproperlyConfigured) as failure:
        deploy(
            local_storage_class="django.contrib.staticfiles.storage.StaticFilesStorage"
        )

    assert "STORAGES['staticfiles']['OPTIONS']['local_storage_class']" in str(
        failure.value
    )
    assert "is not a manifest storage" in str(failure.value)
    assert sum(s3.counts().values()) == 0


# System checks ----------------------------------------------------------------


def staticfiles_checks(**options: Any) -> list[Any]:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": BACKEND, "OPTIONS": options},
    }
    with override_settings(STORAGES=storages):
        return run_checks(tags=[Tags.staticfiles])


@pytest.mark.parametrize(
    ("options", "check_id", "named"),
    [
        ({}, "E001", "['bucket_name'] / AWS_STORAGE_BUCKET_NAME"),
        ({"bucket_name": ""}, "E001", "['bucket_name'] / AWS_STORAGE_BUCKET_NAME"),
        (
            {"bucket_name": "b", "location": "/static"},
            "E002",
            "['location'] / AWS_LOCATION",
        ),
        (
            {"bucket_name": "b", "local_storage_class": "no.such.Storage"},
            "E003",
            "['local_storage_class']",
        ),
        (
            {
                "bucket_name": "b",
                "local_storage_class": "django.core.files.storage.FileSystemStorage",
            },
            "E003",
            "['local_storage_class']",
        ),
        ({"bucket_name": "b", "upload_concurrency": 0}, "E004", "upload_concurrency"),
        ({"bucket_name": "b", "skip_unchanged": "yes"}, "E004", "skip_unchanged"),
        ({"bucket_name": "b", "upload_threads": 4}, "E004", "upload_threads"),
        (
            {"bucket_name": "b", "local_storage_class": 42},
            "E003",
            "['local_storage_class'] must be a dotted path",
        ),
        (
            {"bucket_name": "b", "local_storage_options": ["x"]},
            "E004",
            "['local_storage_options'] must be a dict",
        ),
        ({"bucket_name": "b", "keep_releases": 0}, "E004", "['keep_releases']"),
        ({"bucket_name": "b", "keep_releases": True}, "E004", "['keep_releases']"),
        (
            {"bucket_name": "b", "hashed_cache_control": 60},
            "E004",
            "['hashed_cache_control'] must be a Cache-Control string",
        ),
    ],
)
def test_system_check_names_the_setting(
    options: dict[str, Any], check_id: str, named: str
) -> None:
    messages = staticfiles_checks(**options)

    assert [message.id for message in messages] == [
        f"django_s3_manifest_storage.{check_id}"
    ]
    assert isinstance(messages[0], Error)
    assert named in messages[0].msg


def test_system_checks_pass_for_a_valid_configuration() -> None:
    assert staticfiles_checks(bucket_name="b", location="static") == []


def test_system_checks_read_global_settings() -> None:
    with override_settings(AWS_STORAGE_BUCKET_NAME="b", AWS_LOCATION="/static"):
        messages = staticfiles_checks()
    assert [message.id for message in messages] == ["django_s3_manifest_storage.E002"]


class StorageWithAbsoluteLocation(ManifestSyncS3Storage):
    location = "/static"


def test_system_checks_read_a_subclass_location() -> None:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": f"{__name__}.StorageWithAbsoluteLocation",
            "OPTIONS": {"bucket_name": "b"},
        },
    }
    with override_settings(STORAGES=storages):
        messages = run_checks(tags=[Tags.staticfiles])
    assert [message.id for message in messages] == ["django_s3_manifest_storage.E002"]


def test_system_checks_leave_an_unimportable_backend_to_django() -> None:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "no.such.Storage", "OPTIONS": {}},
    }
    with override_settings(STORAGES=storages):
        messages = run_checks(tags=[Tags.staticfiles])
    assert not [m for m in messages if m.id.startswith("django_s3_manifest_storage")]


def test_system_checks_ignore_other_storages() -> None:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }
    with override_settings(STORAGES=storages):
        assert run_checks(tags=[Tags.staticfiles]) == []


def test_collectstatic_runs_the_checks_before_collecting(
    s3: S3Bucket, static_source: StaticSource, tmp_path: Path
) -> None:
    static_root = tmp_path / "static_root"
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": BACKEND, "OPTIONS": s3.options(bucket_name=None)},
    }
    with (
        override_settings(
            STATICFILES_DIRS=[str(static_source.root)],
            STATIC_ROOT=str(static_root),
            STORAGES=storages,
        ),
        pytest.raises(SystemCheckError, match=r"django_s3_manifest_storage\.E001"),
    ):
        # As manage.py runs it: with the system checks.
        call_command("collectstatic", interactive=False, skip_checks=False)

    assert not static_root.exists()
    assert sum(s3.counts().values()) == 0
