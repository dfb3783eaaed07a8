"""The bundled S3 server's own promises (``django_s3_manifest_storage.testing``):
what it does to requests, and what it leaves as it was."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from django_s3_manifest_storage.testing.s3_server import (
    Fault,
    LocalS3Server,
    Rendezvous,
)

from .conftest import REGION, S3Bucket


def client_with_made_up_keys(endpoint_url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id="AKIAMADEUPMADEUPMADE",
        aws_secret_access_key="made-up",
        region_name=REGION,
    )


def test_checking_credentials_lasts_as_long_as_the_block(s3: S3Bucket) -> None:
    server = s3.bundled_server
    s3.put("static/a.txt", b"a")
    stranger = client_with_made_up_keys(s3.endpoint_url)

    with server.checking_credentials():
        with pytest.raises(ClientError) as refused:
            stranger.get_object(Bucket=s3.name, Key="static/a.txt")
        assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"

    # As before the block: moto serves any key again.
    body = stranger.get_object(Bucket=s3.name, Key="static/a.txt")["Body"].read()
    assert body == b"a"


def test_a_fault_lets_after_requests_through_then_fails_times(s3: S3Bucket) -> None:
    # 403 AccessDenied: an answer the client does not retry.
    fault = s3.add_fault(
        Fault("PUT", r"\.txt$", status=403, code="AccessDenied", after=1, times=2)
    )

    outcomes = []
    for number in range(4):
        try:
            s3.put(f"f{number}.txt", b"x")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
        else:
            outcomes.append("stored")

    assert outcomes == ["stored", "AccessDenied", "AccessDenied", "stored"]
    assert (fault.seen, fault.hits) == (4, 2)
    assert s3.counts() == {"PUT": 4}


def test_a_rendezvous_nobody_joins_serves_the_request_anyway(s3: S3Bucket) -> None:
    meeting = s3.bundled_server.add_rendezvous(
        Rendezvous("PUT", r"alone\.txt$", parties=2, timeout_seconds=0.2)
    )

    s3.put("alone.txt", b"x")

    assert meeting.met is False
    assert s3.get("alone.txt") == b"x"


def test_the_endpoint_exists_only_once_started() -> None:
    server = LocalS3Server()
    with pytest.raises(RuntimeError, match=r"start\(\)"):
        server.endpoint_url  # noqa: B018 - the property is what is tested
