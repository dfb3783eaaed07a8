"""No key outside ``location``, no credentials in any output."""

from __future__ import annotations

import json
import logging
import socket
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core.checks import Tags, run_checks
from django.core.exceptions import SuspiciousFileOperation
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.errors import UnsafeObjectName
from django_s3_manifest_storage.testing.s3_server import Fault

from .conftest import ACCESS_KEY, BACKEND, SECRET_KEY, Deploy, S3Bucket, StaticSource

MANIFEST_KEY = "static/staticfiles.json"


@pytest.mark.parametrize("location", ["static", "", "a/b"])
@pytest.mark.parametrize(
    "name", ["../x.css", "css/../../x.css", "/etc/passwd", "a/..", "..\\x.css"]
)
def test_names_that_would_leave_location_are_refused(location: str, name: str) -> None:
    storage = ManifestSyncS3Storage(bucket_name="b", location=location)

    with pytest.raises(UnsafeObjectName) as refused:
        storage.object_key(name)

    assert repr(name) in str(refused.value)
    assert "['location'] / AWS_LOCATION" in str(refused.value)
    # collectstatic prints a CommandError as one line and exits with status 1.
    assert isinstance(refused.value, CommandError)
    assert isinstance(refused.value, SuspiciousFileOperation)


@pytest.mark.parametrize("location", ["static", ""])
def test_names_inside_location_keep_their_key(location: str) -> None:
    storage = ManifestSyncS3Storage(bucket_name="b", location=location)
    prefix = f"{location}/" if location else ""
    for name in ("x.css", "css/x..y.css", "..x/y.css", "a b/c#d.css"):
        assert storage.object_key(name) == prefix + name


def test_remote_manifest_naming_files_outside_location_is_ignored(
    s3: S3Bucket,
    deploy: Deploy,
    reference_collection: Callable[[], dict[str, bytes]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    hostile = {"version": "1.1", "paths": {"../../evil.css": "../../evil.0.css"}}
    s3.put(MANIFEST_KEY, json.dumps(hostile).encode())

    with caplog.at_level(logging.WARNING, "django_s3_manifest_storage"):
        deploy()

    assert "outside the collection" in caplog.text
    expected = {f"static/{name}": body for name, body in reference_collection().items()}
    assert s3.objects() == expected


def test_a_source_prefix_that_climbs_out_is_refused_before_any_upload(
    s3: S3Bucket, static_source: StaticSource
) -> None:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": BACKEND, "OPTIONS": s3.options()},
    }
    with (
        override_settings(
            STATICFILES_DIRS=[("../outside", str(static_source.root))],
            STORAGES=storages,
        ),
        pytest.raises(SuspiciousFileOperation, match="outside"),
    ):
        call_command("collectstatic", interactive=False, verbosity=0)

    assert s3.counts()["PUT"] == 0


def test_credentials_never_appear_in_errors_logs_or_output(
    s3: S3Bucket,
    deploy: Deploy,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Deploys that must reach the bucket use the secret the server accepts
    # (SECRET_KEY); the one the server must refuse is made up. Neither may
    # show up anywhere.
    wrong_secret = f"never-show-{uuid.uuid4().hex}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    texts: list[str] = []

    def failure_text(**options: Any) -> None:
        with pytest.raises(Exception) as failure:  # noqa: PT011
            deploy(**options)
        texts.append("".join(traceback.format_exception(failure.value)))

    with caplog.at_level(logging.DEBUG):
        deploy()  # a deploy that succeeds, logging everything
        failure_text(bucket_name="no-such-bucket-here")
        failure_text(endpoint_url=f"http://127.0.0.1:{closed_port}")
        failure_text(location="/static")
        with s3.refusing_wrong_secrets() as refusal:
            failure_text(secret_key=wrong_secret)
        with override_settings(
            STORAGES={
                "staticfiles": {
                    "BACKEND": BACKEND,
                    "OPTIONS": s3.options(
                        secret_key=wrong_secret, upload_concurrency=0
                    ),
                }
            }
        ):
            texts.extend(
                str(message) for message in run_checks(tags=[Tags.staticfiles])
            )

    captured = capsys.readouterr()
    output = "\n".join([*texts, captured.out, captured.err, caplog.text])
    assert "NoSuchBucket" in output
    assert refusal in output
    assert "E004" in output
    assert len(texts) == 5
    assert wrong_secret not in output
    # The access key id is no secret: signed requests are logged with it. Take
    # it out first, or a secret equal to it (MinIO's minioadmin) would match.
    assert SECRET_KEY not in output.replace(ACCESS_KEY, "")


def test_credentials_never_appear_when_an_upload_is_refused(
    s3: S3Bucket,
    deploy: Deploy,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The bundled server injects the refusal and checks no signature, so
    # the secret can be made up and cannot show up by chance.
    secret = f"never-show-{uuid.uuid4().hex}"
    s3.add_fault(Fault("PUT", r"js/app\.js$", status=403, code="AccessDenied"))

    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(Exception) as failure,  # noqa: PT011
    ):
        deploy(secret_key=secret)

    text = "".join(traceback.format_exception(failure.value))
    captured = capsys.readouterr()
    output = "\n".join([text, captured.out, captured.err, caplog.text])
    assert "AccessDenied" in text
    assert secret not in output
