"""Errors a deploy reports to the person running ``collectstatic``."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import CommandError


class PublishError(CommandError):
    """Publishing to S3 failed; the previously deployed manifest is still live.

    A ``CommandError``, so ``manage.py collectstatic`` prints the message and
    exits with status 1 instead of showing a traceback.
    """


def describe_s3_error(error: BaseException) -> str:
    """A one-line description of an S3 or network error (no credentials)."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "Unknown")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = details.get("Message", "")
        described = f"{code} (HTTP {status})" if status else code
        return f"{described}: {message}" if message else described
    if isinstance(error, BotoCoreError):
        return f"{type(error).__name__}: {error}"
    return f"{type(error).__name__}: {error}"
