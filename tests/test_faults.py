"""S3 failing mid-deploy: transient faults are retried, persistent ones fail
the deploy clearly and leave the previous release live."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable

import pytest
from botocore.config import Config

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.errors import PublishError
from django_s3_manifest_storage.s3 import DEFAULT_RETRIES
from django_s3_manifest_storage.testing.s3_server import Fault

from .conftest import Deploy, S3Bucket, StaticSource

MANIFEST_KEY = "static/staticfiles.json"
HASHED_PLAIN_CSS = r"css/plain\.[0-9a-f]{12}\.css$"
# A deploy's client gives up on a stalled response after this long.
QUICK_TIMEOUT = Config(read_timeout=1, connect_timeout=1)


def under_location(collection: dict[str, bytes]) -> dict[str, bytes]:
    return {f"static/{name}": body for name, body in collection.items()}


TRANSIENT_FAULTS = {
    "500 on the first two PUTs": Fault("PUT", times=2),
    "503 SlowDown on two PUTs": Fault("PUT", status=503, code="SlowDown", times=2),
    "connection reset on two PUTs": Fault("PUT", action="reset", times=2),
    "reset on the third PUT only": Fault("PUT", action="reset", after=2, times=1),
    "500 on the manifest GET": Fault("GET", r"staticfiles\.json$", times=2),
    "500 on the manifest PUT": Fault("PUT", r"staticfiles\.json$", times=2),
    "503 on a hashed file": Fault("PUT", HASHED_PLAIN_CSS, status=503, times=2),
}


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS.values(), ids=list(TRANSIENT_FAULTS))
def test_transient_faults_are_retried_and_the_bucket_matches_a_clean_run(
    s3: S3Bucket,
    deploy: Deploy,
    reference_collection: Callable[[], dict[str, bytes]],
    fault: Fault,
) -> None:
    fault = s3.add_fault(dataclasses.replace(fault))

    deploy()

    expected = under_location(reference_collection())
    assert s3.objects() == expected
    assert fault.hits == fault.times
    # Every object was written once, plus one retry per injected failure.
    retried_puts = fault.hits if fault.method == "PUT" else 0
    assert s3.counts()["PUT"] == len(expected) + retried_puts


def test_a_response_slower_than_the_read_timeout_is_retried(
    s3: S3Bucket,
    deploy: Deploy,
    reference_collection: Callable[[], dict[str, bytes]],
) -> None:
    stall = s3.add_fault(Fault("PUT", r"js/app\.js$", action="stall", times=1))

    deploy(client_config=QUICK_TIMEOUT)

    assert stall.hits == 1
    assert s3.objects() == under_location(reference_collection())


def test_a_burst_of_slowdown_is_absorbed_with_backoff(
    s3: S3Bucket,
    deploy: Deploy,
    reference_collection: Callable[[], dict[str, bytes]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Each of the first wave's uploads is throttled, two of them twice.
    burst = s3.add_fault(Fault("PUT", status=503, code="SlowDown", times=10))

    # Whichever engine uploads logs its retries: boto3's standard retry mode,
    # or the obstore engine's model of it.
    with (
        caplog.at_level(logging.DEBUG, "botocore.retries.standard"),
        caplog.at_level(logging.DEBUG, "django_s3_manifest_storage.obstore"),
    ):
        deploy()

    assert burst.hits == 10
    assert s3.objects() == under_location(reference_collection())
    # The standard retry mode slept before each retry.
    delays = [
        float(record.args[0])  # type: ignore[index]
        for record in caplog.records
        if record.getMessage().startswith("Retry needed, retrying request after")
    ]
    assert len(delays) == 10
    assert all(delay > 0 for delay in delays)


def test_standard_retries_unless_the_user_configured_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    default = ManifestSyncS3Storage(bucket_name="b")
    assert default.client_config.retries == DEFAULT_RETRIES
    assert default.client_config.retries["mode"] == "standard"

    chosen = {"mode": "legacy", "total_max_attempts": 2}
    configured = ManifestSyncS3Storage(
        bucket_name="b", client_config=Config(retries=chosen)
    )
    assert configured.client_config.retries == chosen

    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    from_environment = ManifestSyncS3Storage(bucket_name="b")
    assert from_environment.client_config.retries is None


# Persistent faults ----------------------------------------------------------

FEWER_ATTEMPTS = Config(
    read_timeout=0.5,
    connect_timeout=1,
    retries={"mode": "standard", "total_max_attempts": 2},
)

PERSISTENT_FAULTS = {
    "500 on a hashed file": (
        Fault("PUT", HASHED_PLAIN_CSS),
        ["css/plain.", "InternalError (HTTP 500)"],
    ),
    "503 SlowDown on a hashed file": (
        Fault("PUT", HASHED_PLAIN_CSS, status=503, code="SlowDown"),
        ["css/plain.", "SlowDown (HTTP 503)"],
    ),
    "connection reset on a hashed file": (
        Fault("PUT", HASHED_PLAIN_CSS, action="reset"),
        ["css/plain.", "ConnectionClosedError"],
    ),
    "stall on a hashed file": (
        Fault("PUT", HASHED_PLAIN_CSS, action="stall"),
        ["css/plain.", "ReadTimeoutError", "read_timeout"],
    ),
    "403 on an original": (
        Fault("PUT", r"img/logo\.png$", status=403, code="AccessDenied"),
        ["img/logo.png", "AccessDenied (HTTP 403)", "s3:PutObject"],
    ),
    "500 on the manifest": (
        Fault("PUT", r"staticfiles\.json$"),
        ["staticfiles.json", "InternalError (HTTP 500)"],
    ),
}


@pytest.mark.parametrize(
    ("fault", "expected_in_message"),
    PERSISTENT_FAULTS.values(),
    ids=list(PERSISTENT_FAULTS),
)
def test_persistent_fault_fails_keeps_the_old_manifest_and_a_rerun_finishes(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    reference_collection: Callable[[], dict[str, bytes]],
    fault: Fault,
    expected_in_message: list[str],
) -> None:
    deploy()
    old_objects = s3.objects()
    old_manifest = s3.get(MANIFEST_KEY)
    static_source.write("css/plain.css", b"p { margin: 1em; }\n")
    static_source.write("img/logo.png", b"\x89PNG\r\n\x1a\n logo v2")
    s3.add_fault(dataclasses.replace(fault))

    with pytest.raises(PublishError) as failure:
        deploy(client_config=FEWER_ATTEMPTS)

    assert failure.value.returncode == 1
    message = str(failure.value)
    for expected in expected_in_message:
        assert expected in message
    assert "previous release" in message
    assert s3.get(MANIFEST_KEY) == old_manifest

    # What the failed run stored is recorded, and not sent again.
    record_key = f"{MANIFEST_KEY}.pending"
    stored = (
        set(json.loads(s3.get(record_key))["stored"])
        if record_key in s3.object_keys()
        else set()
    )
    s3.bundled_server.clear_faults()
    s3.clear_log()
    deploy()

    new_paths = json.loads(s3.get(MANIFEST_KEY))["paths"]
    changed = {"css/plain.css", "img/logo.png"}
    delta = {*changed, *(new_paths[name] for name in changed), "staticfiles.json"}
    rerun = {key.removeprefix("static/") for key in s3.put_keys()}
    # The delta against the manifest that stayed live, nothing more, and
    # nothing twice.
    assert not rerun & stored
    assert rerun | stored == delta
    assert record_key not in s3.object_keys()
    assert s3.objects() == {**old_objects, **under_location(reference_collection())}


def test_a_failed_runs_record_says_how_it_stored_each_object(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    deploy()
    plain = b"p { margin: 3em; }\n"
    static_source.write("css/plain.css", plain)
    static_source.write("img/logo.png", b"\x89PNG\r\n\x1a\n logo v3")
    s3.add_fault(Fault("PUT", r"staticfiles\.json$"))

    with pytest.raises(PublishError):
        deploy(client_config=FEWER_ATTEMPTS)

    # Everything but the manifest was stored: the record has each changed
    # file, an original with the MD5 of its bytes, a hashed name without.
    stored = json.loads(s3.get(f"{MANIFEST_KEY}.pending"))["stored"]
    hashed = {name for name in stored if name not in ("css/plain.css", "img/logo.png")}
    assert len(stored) == 4
    assert stored["css/plain.css"][1] == hashlib.md5(plain).hexdigest()
    assert stored["img/logo.png"][1] == s3.head("static/img/logo.png")["ETag"].strip(
        '"'
    )
    assert all(stored[name][1] == "" for name in hashed)
    assert {name.split(".")[0] for name in hashed} == {"css/plain", "img/logo"}

    s3.bundled_server.clear_faults()
    s3.clear_log()
    deploy()

    rerun = {key.removeprefix("static/") for key in s3.put_keys()}
    assert "staticfiles.json" in rerun
    assert not rerun & set(stored)


def test_unreadable_deployed_manifest_fails_before_hashing(
    s3: S3Bucket, deploy: Deploy, tmp_path
) -> None:
    s3.add_fault(Fault("GET", r"staticfiles\.json$"))
    staging_dir = tmp_path / "staging_dir"

    with pytest.raises(PublishError) as failure:
        deploy(staging_dir=staging_dir)

    message = str(failure.value)
    assert f"s3://{s3.name}/{MANIFEST_KEY}" in message
    assert "InternalError (HTTP 500)" in message
    assert not (staging_dir / "staticfiles.json").exists()
    assert s3.counts()["PUT"] == 0
