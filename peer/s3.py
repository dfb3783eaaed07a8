"""The S3 side of the peer runs: the project's test server on 127.0.0.1,
the ``AWS_*`` settings pointing at it, and a fresh bucket per test."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from django.conf import settings
from django.test import override_settings

from django_s3_manifest_storage.testing.s3_server import LocalS3Server

ACCESS_KEY = "peer-access-key"
SECRET_KEY = "peer-secret-key"
REGION = "us-east-1"
LOCATION = "static"
# URLs are built on this domain, then mapped back to STATIC_URL (see urls.py).
CUSTOM_DOMAIN = "peer-cdn.test"


def isolate_from_machine() -> None:
    """Never read the developer's AWS configuration or a metadata service."""
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ.pop("AWS_PROFILE", None)


def aws_settings(endpoint_url: str) -> dict[str, Any]:
    """Global settings, so that storages built without OPTIONS (as tests
    do when they instantiate a class) reach the server too."""
    return {
        "AWS_S3_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_LOCATION": LOCATION,
        "AWS_S3_CUSTOM_DOMAIN": CUSTOM_DOMAIN,
        "AWS_STORAGE_BUCKET_NAME": "peer-unset",
    }


class BucketPerTest:
    """Each test gets an empty bucket, as Django's tests get an empty
    STATIC_ROOT: nothing deployed by one test is seen by the next."""

    def __init__(self, server: LocalS3Server) -> None:
        self.client = boto3.client(
            "s3",
            endpoint_url=server.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )
        self.numbers = itertools.count(1)

    @contextmanager
    def __call__(self, test: object) -> Iterator[str]:
        bucket = f"peer-{next(self.numbers):04d}"
        self.client.create_bucket(Bucket=bucket)
        # Setting STORAGES again (to its current value) makes Django drop
        # the storage instances it cached, so the next one uses the bucket.
        with override_settings(
            AWS_STORAGE_BUCKET_NAME=bucket, STORAGES=settings.STORAGES
        ):
            yield bucket
