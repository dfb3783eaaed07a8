"""obstore's errors as the botocore errors boto3 raises for the same failure.

obstore reports a failed request as one exception whose text carries the
HTTP status, S3's XML error body and, for network failures, the kind of
failure. Turned into botocore's exception types, they go through the same
``errors.describe_s3_error``, ``errors.what_to_fix`` and
``upload.uploader.is_retryable`` as boto3's, so both engines name the same S3 error
code, suggest the same fix and retry the same failures.
"""

from __future__ import annotations

import html
import re
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from ..uploader import UnrecognisedUploadError

STATUS = re.compile(r"Server returned non-2xx status code: (\d{3})(?: ([^:\n]*))?")
CODE = re.compile(r"<Code>(.*?)</Code>", re.DOTALL)
MESSAGE = re.compile(r"<Message>(.*?)</Message>", re.DOTALL)
HTTP_KIND = re.compile(r"HttpError \{\s*kind: (\w+)")
URI = re.compile(r"Error performing \w+ (\S+)")


def as_botocore_error(error: BaseException, operation: str = "PutObject") -> Exception:
    """The botocore exception boto3 would have raised for ``error``."""
    text = str(error)
    url_match = URI.search(text)
    url = url_match.group(1) if url_match else ""
    status_match = STATUS.search(text)
    if status_match:
        status = int(status_match.group(1))
        reason = (status_match.group(2) or "").strip()
        code = CODE.search(text)
        message = MESSAGE.search(text)
        # Without an XML body botocore names the error by its status code.
        response: Any = {
            "Error": {
                "Code": html.unescape(code.group(1)) if code else str(status),
                "Message": html.unescape(message.group(1)) if message else reason,
            },
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return ClientError(response, operation)
    kind_match = HTTP_KIND.search(text)
    kind = kind_match.group(1) if kind_match else None
    if kind == "Timeout":
        # A connect that timed out is reported as a Connect failure below.
        return ReadTimeoutError(endpoint_url=url)
    if kind == "Connect":
        if "TimedOut" in text or "timed out" in text:
            return ConnectTimeoutError(endpoint_url=url)
        return EndpointConnectionError(endpoint_url=url)
    if kind in ("Request", "Interrupted", "Decode"):
        # The connection went away before a response: a reset or a close.
        return ConnectionClosedError(endpoint_url=url)
    return UnrecognisedUploadError(text.split("\n", 1)[0])
