"""The upload engines: obstore stores what boto3 stores, and whatever obstore
cannot send goes through boto3. The server tells the clients apart by their
User-Agent."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from django.core.exceptions import ImproperlyConfigured

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.errors import what_to_fix
from django_s3_manifest_storage.upload.obstore.errors import as_botocore_error
from django_s3_manifest_storage.upload.uploader import is_retryable

from .conftest import Deploy, S3Bucket, StaticSource

# Without the fast extra (the ``tests`` sessions) there is nothing to test.
obstore = pytest.importorskip("obstore")

from django_s3_manifest_storage.upload.obstore.parameters import (  # noqa: E402
    obstore_request,
)

# What a head_object answer says about the stored object, not the request.
COMPARED = (
    "ContentLength",
    "ETag",
    "ContentType",
    "CacheControl",
    "ContentEncoding",
    "ContentDisposition",
    "ContentLanguage",
    "Metadata",
    "ServerSideEncryption",
    "StorageClass",
)

EVERY_EXPRESSIBLE_PARAMETER = {
    "ContentDisposition": "inline",
    "ContentLanguage": "en",
    "Metadata": {"release": "r1", "team": "web"},
    "ACL": "public-read",
    "ServerSideEncryption": "AES256",
}


def put_clients(s3: S3Bucket) -> set[str]:
    """The client names (before the ``/``) of this bucket's PUTs."""
    return {
        request.user_agent.split("/", 1)[0]
        for request in s3.bundled_server.requests
        if request.method == "PUT" and request.bucket == s3.name
    }


def stored(s3: S3Bucket, location: str) -> dict[str, dict[str, Any]]:
    """Every object under ``location``: its bytes, headers and grants."""
    result = {}
    for key in s3.object_keys(f"{location}/"):
        head = s3.head(key)
        grants = s3.client.get_object_acl(Bucket=s3.name, Key=key)["Grants"]
        result[key.removeprefix(f"{location}/")] = {
            "body": s3.get(key),
            **{name: head.get(name) for name in COMPARED},
            "grants": sorted(str(grant) for grant in grants),
        }
    return result


def test_both_engines_store_the_same_objects(s3: S3Bucket, deploy: Deploy) -> None:
    options: dict[str, Any] = {
        "object_parameters": EVERY_EXPRESSIBLE_PARAMETER,
        "gzip": True,
    }
    s3.clear_log()
    deploy(upload_engine="boto3", location="by-boto3", **options)
    assert put_clients(s3) == {"Boto3"}
    s3.clear_log()
    deploy(upload_engine="obstore", location="by-obstore", **options)
    assert put_clients(s3) == {"object_store"}

    by_boto3, by_obstore = stored(s3, "by-boto3"), stored(s3, "by-obstore")
    assert by_obstore == by_boto3
    # The comparison covers what the parameters asked for.
    site_css = by_obstore["css/site.css"]
    assert site_css["ContentEncoding"] == "gzip"
    assert site_css["Metadata"] == {"release": "r1", "team": "web"}
    assert site_css["ServerSideEncryption"] == "AES256"
    assert any("AllUsers" in grant for grant in site_css["grants"])


def test_auto_uses_obstore_when_installed(s3: S3Bucket, deploy: Deploy) -> None:
    s3.clear_log()
    deploy(upload_engine="auto")
    assert put_clients(s3) == {"object_store"}


def test_what_obstore_cannot_send_goes_through_boto3(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    s3.clear_log()
    deploy(upload_engine="obstore", object_parameters={"Tagging": "team=web"})

    assert put_clients(s3) == {"Boto3"}
    tags = s3.client.get_object_tagging(Bucket=s3.name, Key="static/css/site.css")
    assert tags["TagSet"] == [{"Key": "team", "Value": "web"}]


PUNCTUATED_NAMES = (
    "js/@scope/pkg/index.js",
    "fonts/a+b=c,d~e.txt",
)


def test_keys_with_package_punctuation_go_through_obstore(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    for name in PUNCTUATED_NAMES:
        static_source.write(name, f"/* {name} */".encode())
    deploy(upload_engine="boto3", location="by-boto3")
    s3.clear_log()
    deploy(upload_engine="obstore", location="by-obstore")

    assert put_clients(s3) == {"object_store"}
    by_boto3, by_obstore = stored(s3, "by-boto3"), stored(s3, "by-obstore")
    assert by_obstore == by_boto3
    for name in PUNCTUATED_NAMES:
        assert by_obstore[name]["body"] == f"/* {name} */".encode()


def test_files_over_the_multipart_threshold_go_through_boto3(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource
) -> None:
    static_source.write("big/blob.bin", b"x" * 6000)
    s3.clear_log()
    deploy(
        upload_engine="obstore",
        transfer_config=TransferConfig(multipart_threshold=5000),
    )

    by_client: dict[str, set[str]] = {}
    for request in s3.bundled_server.requests:
        if request.bucket == s3.name and request.method in ("PUT", "POST"):
            client = request.user_agent.split("/", 1)[0]
            by_client.setdefault(client, set()).add(request.key)
    # The original and its hashed copy; nothing else.
    assert len(by_client["Boto3"]) == 2
    assert all(key.startswith("static/big/blob.") for key in by_client["Boto3"])
    assert "static/css/site.css" in by_client["object_store"]
    assert s3.get("static/big/blob.bin") == b"x" * 6000


def test_client_settings_obstore_cannot_copy_keep_boto3(
    s3: S3Bucket, deploy: Deploy
) -> None:
    # botocore's legacy retry mode is not modelled by the obstore engine.
    s3.clear_log()
    deploy(
        upload_engine="obstore",
        client_config=Config(retries={"mode": "legacy", "max_attempts": 2}),
    )
    assert put_clients(s3) == {"Boto3"}


@pytest.mark.parametrize(
    "parameters",
    [
        {"Tagging": "a=b"},
        {"SSECustomerKey": "k", "SSECustomerAlgorithm": "AES256"},
        {"Metadata": {"content-type": "clash"}},
        {"Metadata": {"name": "caf\u00e9"}},
        {"ContentType": 7},
    ],
    ids=["tagging", "sse-c", "metadata-named-like-a-header", "non-ascii", "not-str"],
)
def test_parameters_obstore_cannot_express(parameters: dict[str, Any]) -> None:
    assert obstore_request(parameters) is None


def test_parameters_obstore_expresses() -> None:
    request = obstore_request(
        {
            "ContentType": "text/css",
            "CacheControl": "no-cache",
            "Metadata": {"a": "b"},
            "ACL": "private",
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": "key-id",
            "BucketKeyEnabled": True,
        }
    )
    assert request is not None
    assert request.attributes == {
        "Content-Type": "text/css",
        "Cache-Control": "no-cache",
        "a": "b",
    }
    assert dict(request.headers) == {
        "x-amz-acl": "private",
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": "key-id",
        "x-amz-server-side-encryption-bucket-key-enabled": "true",
    }


def test_upload_engine_must_be_a_known_engine() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"\['upload_engine'\] must be"):
        ManifestSyncS3Storage(bucket_name="b", upload_engine="s5cmd")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_endpoint_is_reported_as_boto3_reports_it() -> None:
    from obstore.store import S3Store

    store = S3Store(
        "bucket",
        endpoint=f"http://127.0.0.1:{closed_port()}",
        region="us-east-1",
        access_key_id="key",
        secret_access_key="secret",
        client_options={"allow_http": True},
        retry_config={"max_retries": 0},
    )
    with pytest.raises(obstore.exceptions.BaseError) as raised:
        obstore.put(store, "a.css", b"a", use_multipart=False)

    error = as_botocore_error(raised.value)
    assert isinstance(error, EndpointConnectionError)
    assert "endpoint_url" in (what_to_fix(error) or "")
    assert not is_retryable(error, what_to_fix(error))
