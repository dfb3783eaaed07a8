"""How each object of a deploy is stored: its key, its upload parameters and
whether it is gzipped, as the storage says.

The rules are django-storages' (``S3Storage`` uploads): start from
``get_object_parameters(key)``, add a Content-Type guessed from the name (and a
Content-Encoding for ``.gz``/``.br`` names) unless one is set, and the default
ACL unless one is set. The guess uses a fixed table for the common static file
types first, because Python's ``mimetypes`` reads the machine's
``/etc/mime.types`` and differs across platforms and Python versions; a
deploy must not upload different headers from a different machine.

A deploy needs them several times per name (the parameters digests of the
stamp, the resume record's entries, the uploads), so the storage is asked
once per name and hashed-ness, and the answer is kept for the run: one
``ParameterSet`` per distinct answer, a reference to it per name.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from ..planning.fingerprint import (
    ParameterLines,
    digest_sorted_lines,
    parameter_lines,
    parameter_set_key,
)
from ..planning.names import is_hashed
from ..planning.record import ReleaseRecord, StoredObjects
from ..s3 import S3Location
from ..upload.uploader import Upload
from .resume import Entry, file_md5
from .resume import parameters_digest as resume_digest


class StagedFiles(Protocol):
    """Where a deploy reads the files it uploads (the run's staging)."""

    @property
    def root(self) -> Path: ...

    def file(self, name: str) -> Path:
        """Where the staged file ``name`` can be read."""


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


class Destination(Protocol):
    """What deploying needs from the storage: where and how objects go."""

    bucket_name: str

    def object_key(self, name: str) -> str: ...

    def s3_location(self) -> S3Location: ...

    def upload_parameters(self, key: str, *, hashed: bool) -> dict[str, Any]: ...

    def should_gzip(self, parameters: dict[str, Any]) -> bool: ...


@dataclass(frozen=True, slots=True)
class ParameterSet:
    """One distinct way objects are stored; most names share one (a content
    type and a cache policy), so a deploy keeps one per set, not per name."""

    parameters: dict[str, Any]
    """put_object's parameters, as the storage gives them."""
    gzip: bool
    lines: ParameterLines
    """What the stamp's parameters digests take from each object so stored."""
    key: str
    """The set's opaque key, which a release's record keeps."""
    hashed_entry: Entry
    """The resume record's entry of a hashed name so stored (its bytes are
    content-addressed: no MD5), shared by every such name."""


class ObjectSettings:
    """The storage's answers for one deploy's objects: asked once per name
    and hashed-ness; per name only a reference to its parameter set is kept
    (the object's key is derived again when it is uploaded)."""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self._sets_of: dict[bool, dict[str, ParameterSet]] = {True: {}, False: {}}
        self._distinct: dict[tuple[str, bool], ParameterSet] = {}

    def stored(self, name: str, hashed: bool) -> ParameterSet:
        """How ``name`` is stored."""
        sets = self._sets_of[hashed]
        stored = sets.get(name)
        if stored is None:
            key = self.destination.object_key(name)
            given = self.destination.upload_parameters(key, hashed=hashed)
            gzip = self.destination.should_gzip(given)
            distinct = (repr(given), gzip)
            stored = self._distinct.get(distinct)
            if stored is None:
                with_gzip = {**given, "gzip": gzip}
                stored = ParameterSet(
                    given,
                    gzip,
                    parameter_lines(with_gzip),
                    parameter_set_key(given, gzip=gzip),
                    (resume_digest(with_gzip), ""),
                )
                self._distinct[distinct] = stored
            sets[name] = stored
        return stored

    def parameter_set(self, name: str, hashed: bool) -> str:
        """The key of the parameters ``name`` is stored with (a release's
        record keeps it)."""
        return self.stored(name, hashed).key

    def digests(
        self, names: Iterable[str], hashed_names: Collection[str]
    ) -> dict[str, str]:
        """One digest per upload parameter over ``names`` (each once; the
        stamp's).
        Asked twice per deploy (the deployed release's names, then the new
        one's): each name's parameters are looked up and formatted once."""
        return digest_sorted_lines(
            (name, self.stored(name, is_hashed(name, hashed_names)).lines)
            for name in sorted(names)
        )

    def resume_entry(self, staging: StagedFiles, name: str, hashed: bool) -> Entry:
        """How ``name`` would be stored: its parameters, and the MD5 of an
        unhashed name's bytes (a hashed name is content-addressed)."""
        entry = self.stored(name, hashed).hashed_entry
        return entry if hashed else (entry[0], file_md5(staging.file(name)))

    def upload(self, staging: StagedFiles, name: str, hashed: bool) -> Upload:
        stored = self.stored(name, hashed)
        parameters = dict(stored.parameters)
        if stored.gzip:
            parameters["ContentEncoding"] = "gzip"
        return Upload(
            name=name,
            path=staging.file(name),
            key=self.destination.object_key(name),
            parameters=parameters,
            gzip=stored.gzip,
        )


def with_metadata(upload: Upload, metadata: dict[str, str]) -> Upload:
    """``upload`` with ``metadata`` added to its user metadata."""
    parameters = dict(upload.parameters)
    parameters["Metadata"] = {**parameters.get("Metadata", {}), **metadata}
    return Upload(upload.name, upload.path, upload.key, parameters, upload.gzip)


def gzipped(upload: Upload, compressed: bytes) -> Upload:
    """``upload`` sent as ``compressed`` (its gzipped bytes), whatever the
    ``gzip`` option says: for this package's own JSON (the record of
    sources), which only it reads, and ``s3.fetch_object`` decodes."""
    parameters = {**upload.parameters, "ContentEncoding": "gzip"}
    return replace(upload, parameters=parameters, gzip=True, compressed=compressed)


def in_place(upload: Upload) -> Upload:
    """``upload`` as an update of the stored object's parameters (a copy
    onto itself), its bytes left as they are."""
    return replace(upload, in_place=True)


def renamed(upload: Upload, name: str, key: str) -> Upload:
    """The same bytes and parameters stored as another object."""
    return Upload(name, upload.path, key, upload.parameters, upload.gzip)


def stored_in(staging: StagedFiles, record: str) -> StoredObjects | None:
    """How the staged record ``record`` says the release's objects are stored."""
    return ReleaseRecord.decode(staging.file(record).read_bytes()).stored
