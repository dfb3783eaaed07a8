"""Resuming a deploy that failed part-way.

A run that fails after storing some objects (an upload error, Ctrl-C) leaves
a record next to the manifest, ``<manifest>.pending``: for each object it
stored, a digest of its upload parameters and, for unhashed names (which are
not content-addressed), the MD5 of its bytes. The next run reads the record
(one GET, made only when it has files to upload), lists the bucket once, and
skips every object that is on S3 and would be stored exactly as recorded.
A run that succeeds deletes the record.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..s3 import ListedObject, S3Location, fetch_object, in_background

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("django_s3_manifest_storage")

# One entry of the record: [parameters digest, MD5 of the bytes or ""].
Entry = tuple[str, str]
EntryOf = Callable[[str, bool], Entry]
"""The entry of a name, hashed or not, as this run stores it."""


def parameters_digest(parameters: Mapping[str, Any]) -> str:
    encoded = json.dumps(parameters, sort_keys=True, default=repr)
    return hashlib.sha256(encoded.encode()).hexdigest()[:24]


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def parse_record(body: bytes) -> dict[str, Entry]:
    """The entries of a record; garbage reads as no record."""
    try:
        stored = json.loads(body)["stored"]
        return {
            str(name): (str(entry[0]), str(entry[1])) for name, entry in stored.items()
        }
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return {}


def already_stored(
    name: str,
    entry: Entry,
    recorded: Mapping[str, Entry],
    listing: Mapping[str, ListedObject],
) -> bool:
    """Whether S3 holds ``name`` as this run would store it (pure)."""
    if recorded.get(name) != entry or name not in listing:
        return False
    md5 = entry[1]
    etag = listing[name].etag
    # A single-part upload's ETag is its MD5: check unhashed bytes when it is.
    return not md5 or "-" in etag or etag == md5


class ResumeRecord:
    """The record of a failed run, read in the background, and this run's."""

    def __init__(
        self,
        client: S3Client,
        location: S3Location,
        name: str,
        recorded: Future[dict[str, Entry]],
        listing: Callable[[], dict[str, ListedObject]],
        entry_of: EntryOf,
    ) -> None:
        self.client = client
        self.bucket = location.bucket
        self.key = location.key(name)
        self._recorded = recorded
        self._list = listing
        self._listing: dict[str, ListedObject] | None = None
        self._entry_of = entry_of
        # What this run stored: each name, and whether it is hashed. Its
        # entry (for an unhashed name, an MD5 of its bytes) is made only if
        # the record is saved: a run that succeeds never needs it, and at
        # 100,000 files the entries are megabytes and a read of every file.
        self.stored: dict[str, bool] = {}

    @classmethod
    def read_in_background(
        cls,
        client: S3Client,
        location: S3Location,
        name: str,
        listing: Callable[[], dict[str, ListedObject]],
        entry_of: EntryOf,
    ) -> ResumeRecord:
        """The record ``name`` under ``location``, read in the background."""
        key = location.key(name)
        recorded = in_background(lambda: cls.fetch(client, location.bucket, key))
        return cls(client, location, name, recorded, listing, entry_of)

    @staticmethod
    def fetch(client: S3Client, bucket: str, key: str) -> dict[str, Entry]:
        record = fetch_object(client, bucket, key)
        return {} if record is None else parse_record(record.body)

    @property
    def recorded(self) -> dict[str, Entry]:
        return self._recorded.result()

    def is_stored(self, name: str, hashed: bool) -> bool:
        """Whether the failed run stored ``name`` as this run would."""
        recorded = self.recorded
        if name not in recorded:
            return False
        if self._listing is None:
            self._listing = self._list()  # only after a failed run: rare
        entry = self._entry_of(name, hashed)
        if already_stored(name, entry, recorded, self._listing):
            self.stored[name] = hashed
            return True
        return False

    def note_stored(self, name: str, hashed: bool) -> None:
        self.stored[name] = hashed

    def save(self) -> None:
        """After a failure: record what is on S3 now, for the next run."""
        entries = {}
        for name, hashed in self.stored.items():
            try:
                entries[name] = list(self._entry_of(name, hashed))
            except OSError as error:  # left out: the next run sends it again
                logger.warning("Cannot record %s as stored: %s", name, error)
        if not entries:
            return
        body = json.dumps({"stored": entries}, sort_keys=True).encode()
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=body,
                ContentType="application/json",
                CacheControl="no-cache",
            )
        except Exception as error:  # without it, the next run only does more
            logger.warning("Cannot record what this deploy stored: %s", error)

    def discard(self) -> None:
        """After a success: a record that was read is obsolete."""
        if not self._recorded.done() or not self.recorded:
            return
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key)
        except Exception as error:  # a stale record only costs a listing
            logger.warning("Cannot delete %s: %s", self.key, error)
