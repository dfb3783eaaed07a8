"""put_object's parameters and keys in obstore's terms: pure, no I/O.

obstore sends some parameters as object attributes and others as request
headers; whatever it cannot send exactly as boto3 would (SSE-C, tagging, a
key it would rewrite) is left to boto3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# put_object parameters obstore sends as object attributes.
ATTRIBUTES = {
    "ContentType": "Content-Type",
    "CacheControl": "Cache-Control",
    "ContentEncoding": "Content-Encoding",
    "ContentDisposition": "Content-Disposition",
    "ContentLanguage": "Content-Language",
    "StorageClass": "Storage-Class",
}
# put_object parameters sent as request headers. obstore signs its default
# headers (S3 refuses unsigned x-amz-* headers), so a store per distinct set.
HEADERS = {
    "ACL": "x-amz-acl",
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
}
BUCKET_KEY_HEADER = "x-amz-server-side-encryption-bucket-key-enabled"
RESERVED_METADATA = frozenset(name.lower() for name in ATTRIBUTES.values())

# Keys obstore sends byte for byte, each character checked against a real
# endpoint (test_keys_with_package_punctuation_go_through_obstore): ``@``
# for npm scopes (``@fortawesome/...``), ``+ = , ~`` for generated names.
# object_store drops empty segments and resolves ``.``/``..``, and other
# characters are not proven, so they go through boto3.
VERBATIM_KEY = re.compile(r"[A-Za-z0-9!_.*'()/@+=,~-]+")


@dataclass(frozen=True)
class ObstoreRequest:
    """One upload's parameters in obstore's terms."""

    attributes: dict[str, str]
    headers: tuple[tuple[str, str], ...]


def obstore_request(parameters: dict[str, Any]) -> ObstoreRequest | None:
    """``parameters`` (put_object's) for obstore, or None if it cannot send
    one of them exactly as boto3 would."""
    attributes: dict[str, str] = {}
    headers: list[tuple[str, str]] = []
    for name, value in parameters.items():
        if name == "Metadata":
            if not isinstance(value, dict):
                return None
            for key, item in value.items():
                if not (
                    isinstance(key, str)
                    and isinstance(item, str)
                    and key.isascii()
                    and item.isascii()
                    and key.lower() not in RESERVED_METADATA
                ):
                    return None
                attributes[key] = item
        elif name in ATTRIBUTES and isinstance(value, str):
            attributes[ATTRIBUTES[name]] = value
        elif name in HEADERS and isinstance(value, str):
            headers.append((HEADERS[name], value))
        elif name == "BucketKeyEnabled" and isinstance(value, bool):
            headers.append((BUCKET_KEY_HEADER, "true" if value else "false"))
        else:
            return None
    return ObstoreRequest(attributes, tuple(sorted(headers)))


def key_is_verbatim(key: str) -> bool:
    return (
        bool(VERBATIM_KEY.fullmatch(key))
        and not key.startswith("/")
        and not key.endswith("/")
        and "//" not in key
        and all(segment not in (".", "..") for segment in key.split("/"))
    )
