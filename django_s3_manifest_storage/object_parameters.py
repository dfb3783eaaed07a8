"""The parameters sent with each uploaded object.

The rules are django-storages' (``S3Storage`` uploads): start from
``get_object_parameters(key)``, add a Content-Type guessed from the name (and a
Content-Encoding for ``.gz``/``.br`` names) unless one is set, and the default
ACL unless one is set. The guess uses a fixed table for the common static file
types first, because Python's ``mimetypes`` reads the machine's
``/etc/mime.types`` and differs across platforms and Python versions; a
deploy must not upload different headers from a different machine.
"""

from __future__ import annotations

import gzip
import mimetypes
import posixpath
from pathlib import Path
from typing import Any

STATIC_CONTENT_TYPES = {
    ".avif": "image/avif",
    ".css": "text/css",
    ".csv": "text/csv",
    ".eot": "application/vnd.ms-fontobject",
    ".gif": "image/gif",
    ".htm": "text/html",
    ".html": "text/html",
    ".ico": "image/vnd.microsoft.icon",
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".js": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".mjs": "text/javascript",
    ".mp4": "video/mp4",
    ".otf": "font/otf",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ttf": "font/ttf",
    ".txt": "text/plain",
    ".wasm": "application/wasm",
    ".webm": "video/webm",
    ".webp": "image/webp",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".xml": "application/xml",
}

CONTENT_ENCODINGS = {".gz": "gzip", ".br": "br"}

# Text formats that shrink several times under gzip: the default of the
# ``gzip`` option (django-storages' own default stops at CSS, JS and SVG).
# Already-compressed formats (images, woff/woff2, video) would only grow.
GZIP_CONTENT_TYPES = (
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "image/svg+xml",
    "application/json",
    "text/plain",
    "application/xml",
    "text/xml",
    "text/html",
    "application/wasm",
)


def guess_content_type(name: str) -> tuple[str | None, str | None]:
    """Return ``(content type, content encoding)`` for a file name."""
    stem, extension = posixpath.splitext(name)
    encoding = CONTENT_ENCODINGS.get(extension.lower())
    if encoding:
        stem, extension = posixpath.splitext(stem)
    content_type = STATIC_CONTENT_TYPES.get(extension.lower())
    if content_type is None:
        content_type, fallback_encoding = mimetypes.guess_type(name)
        encoding = encoding or fallback_encoding
    return content_type, encoding


def write_parameters(
    key: str,
    object_parameters: dict[str, Any],
    *,
    default_acl: str | None,
    default_content_type: str,
) -> dict[str, Any]:
    """Complete ``object_parameters`` (a fresh dict) for uploading ``key``."""
    parameters = dict(object_parameters)
    if "ContentType" not in parameters:
        content_type, encoding = guess_content_type(key)
        parameters["ContentType"] = content_type or default_content_type
        if encoding:
            parameters["ContentEncoding"] = encoding
    if "ACL" not in parameters and default_acl:
        parameters["ACL"] = default_acl
    return parameters


def gzip_file(path: Path) -> bytes:
    """Gzip a file reproducibly: no name or timestamp in the header.

    Identical input gives identical bytes, so S3's ETag stays stable.
    """
    return gzip.compress(path.read_bytes(), mtime=0)
