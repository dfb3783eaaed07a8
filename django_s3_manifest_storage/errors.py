"""Errors a deploy reports to the person running ``collectstatic``."""

from __future__ import annotations

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.management.base import CommandError

# Each option of ours or django-storages', and the global setting it falls
# back to, so a message names both places the user may have set it.
GLOBAL_SETTINGS = {
    "bucket_name": "AWS_STORAGE_BUCKET_NAME",
    "location": "AWS_LOCATION",
    "endpoint_url": "AWS_S3_ENDPOINT_URL",
    "region_name": "AWS_S3_REGION_NAME",
    "access_key": "AWS_S3_ACCESS_KEY_ID",
    "secret_key": "AWS_S3_SECRET_ACCESS_KEY",
    "client_config": "AWS_S3_CLIENT_CONFIG",
}

CREDENTIAL_ERROR_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
    }
)
REGION_ERROR_CODES = frozenset({"PermanentRedirect", "AuthorizationHeaderMalformed"})


class PublishError(CommandError):
    """Publishing to S3 failed; the previously deployed manifest is still live.

    A ``CommandError``, so ``manage.py collectstatic`` prints the message and
    exits with status 1 instead of showing a traceback.
    """


class SettingError(PublishError, ImproperlyConfigured):
    """A setting makes publishing impossible; found before any upload."""


class ReleaseRefused(CommandError):
    """A release that cannot be read or must not go live: unknown, changed
    or incomplete. A ``CommandError``, so the command exits with status 1
    and this message."""


class UnsafeObjectName(PublishError, SuspiciousFileOperation):
    """A name would become an S3 key outside the configured ``location``."""


def setting_reference(option: str, alias: str = "staticfiles") -> str:
    """Where the user sets ``option``: in ``OPTIONS`` or the global setting."""
    reference = f"STORAGES[{alias!r}]['OPTIONS'][{option!r}]"
    global_setting = GLOBAL_SETTINGS.get(option)
    return f"{reference} / {global_setting}" if global_setting else reference


def describe_s3_error(error: BaseException) -> str:
    """A one-line description of an S3 or network error (no credentials)."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "Unknown")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = details.get("Message", "")
        described = f"{code} (HTTP {status})" if status else code
        return f"{described}: {message}" if message else described
    if isinstance(error, S3UploadFailedError) and error.__context__ is not None:
        # boto3's multipart upload wraps the S3 error; report the S3 error.
        return describe_s3_error(error.__context__)
    return f"{type(error).__name__}: {error}"


def what_to_fix(error: BaseException) -> str | None:
    """The setting to check for an error that configuration explains, or None
    for errors a rerun may cure (throttling, a server error)."""
    if isinstance(error, S3UploadFailedError) and error.__context__ is not None:
        return what_to_fix(error.__context__)
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            return (
                f"The bucket does not exist: check {setting_reference('bucket_name')}"
                f" (and {setting_reference('endpoint_url')})."
            )
        if code in CREDENTIAL_ERROR_CODES:
            return (
                "S3 refused the credentials: check "
                f"{setting_reference('access_key')} and "
                f"{setting_reference('secret_key')} (or the AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY environment variables)."
            )
        if code == "AccessDenied":
            return (
                "S3 denied the request: grant these credentials s3:GetObject "
                "and s3:PutObject on the bucket, or check "
                f"{setting_reference('access_key')}."
            )
        if code in REGION_ERROR_CODES:
            return (
                "The bucket is in another region: check "
                f"{setting_reference('region_name')}."
            )
        return None
    if isinstance(error, NoCredentialsError):
        return (
            f"Set {setting_reference('access_key')} and "
            f"{setting_reference('secret_key')}, or provide AWS credentials "
            "through the environment."
        )
    if isinstance(error, (EndpointConnectionError, ConnectTimeoutError)):
        return (
            f"The S3 endpoint cannot be reached: check "
            f"{setting_reference('endpoint_url')} and "
            f"{setting_reference('region_name')}."
        )
    if isinstance(error, ReadTimeoutError):
        return (
            "S3 did not answer in time; rerun, or raise read_timeout in "
            f"{setting_reference('client_config')}."
        )
    return None


def describe_with_fix(error: BaseException) -> str:
    """``describe_s3_error`` followed by the setting to check, if any."""
    fix = what_to_fix(error)
    described = describe_s3_error(error)
    return f"{described}\n{fix}" if fix else described
