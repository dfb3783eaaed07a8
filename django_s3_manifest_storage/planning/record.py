"""Incremental hashing: which files must be hashed again, from the record
published with the deployed release. Pure logic, no I/O.

A release's *record* (``staticfiles.json.sources`` next to the manifest)
holds each source's content digest, the references each file hashing
rewrites makes (as the hashing storage resolved them), the names of the
collection's files in the staging directory (originals, hashed names,
compressed variants) and, since version 2, how each of them is stored: the
content digest of each object whose name does not say its bytes (originals
and compressed variants; a hashed name is content-addressed) and which of
the release's distinct upload parameter sets it was stored with. With it, a deploy whose context equals the deployed
one's hashes only:

* the sources whose bytes changed, and the added ones;
* every file that references a changed, added or removed one, transitively
  (its hashed name depends on theirs).

Every other file keeps its hashed name from the deployed manifest: its bytes
and the hashed names it references are those the deployed release was made
from, and hashing is a function of both. And after a full pass (a new Django,
say), only the objects whose bytes or parameters differ from the recorded
ones are sent (``stored.py``).

A version 1 record still decodes, without the stored objects: a release it
describes is published again as before.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

RECORD_VERSION = 2
READABLE_VERSIONS = (1, 2)


def record_name(manifest_name: str) -> str:
    return f"{manifest_name}.sources"


class UnreadableRecord(ValueError):
    """The bytes are not a record this version wrote."""


@dataclass(frozen=True)
class ReleaseRecord:
    sources: dict[str, str]
    """``{name: content digest}`` of every source."""

    references: dict[str, tuple[str, ...]]
    """``{name: names it references}`` for files hashing rewrote."""

    objects: tuple[str, ...]
    """The collection's files in the staging directory after the run."""

    stored: StoredObjects | None = None
    """How each object is stored on S3 (None: a version 1 record)."""

    def encode(self) -> bytes:
        return "".join(self.chunks()).encode()

    def chunks(self) -> Iterator[str]:
        """The record as JSON, a section at a time: at 100,000 files the
        whole document is tens of megabytes as one string, as its bytes and
        as the encoder's pieces, all at once. The same text as one
        ``json.dumps`` of the document (compact separators, each mapping's
        names sorted)."""
        objects = sorted(self.objects)
        yield f'{{"version":{RECORD_VERSION},"sources":'
        yield _compact(self.sources, sort_keys=True)
        yield ',"references":'
        yield _compact(
            {name: sorted(targets) for name, targets in self.references.items()},
            sort_keys=True,
        )
        yield ',"objects":'
        yield _compact(objects)
        if self.stored is not None:
            yield ',"stored":'
            yield from self.stored.chunks(objects)
        yield "}"

    @classmethod
    def decode(cls, body: bytes | str) -> ReleaseRecord:
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, ValueError) as error:
            raise UnreadableRecord(f"not JSON ({error})") from error
        if (
            not isinstance(document, dict)
            or document.get("version") not in READABLE_VERSIONS
        ):
            raise UnreadableRecord("not a record of a known version")
        sources = document.get("sources")
        references = document.get("references")
        objects = document.get("objects")
        if not (
            isinstance(sources, dict)
            and _is_str_mapping(sources)
            and isinstance(references, dict)
            and all(
                isinstance(name, str) and _is_str_list(targets)
                for name, targets in references.items()
            )
            and isinstance(objects, list)
            and _is_str_list(objects)
        ):
            raise UnreadableRecord("unexpected structure")
        stored = None
        if document["version"] >= 2:
            stored = StoredObjects.from_document(document.get("stored"), objects)
        return cls(
            dict(sources),
            {name: tuple(targets) for name, targets in references.items()},
            tuple(objects),
            stored,
        )


@dataclass(frozen=True)
class StoredObjects:
    """How a release's objects are stored on S3.

    Most objects share their upload parameters (a content type and a cache
    policy), so each distinct set is kept once, as an opaque key
    (``fingerprint.parameter_set_key``), and each object refers to its set by
    index: at 100,000 objects that is an int per name, not a dict.
    """

    digests: dict[str, str]
    """``{name: content digest}`` of every object whose name is not a
    hashed name (originals, compressed variants)."""

    parameter_sets: tuple[str, ...]
    """The distinct parameter sets' keys."""

    parameters: dict[str, int]
    """``{name: index in parameter_sets}`` of every object."""

    def parameter_set(self, name: str) -> str | None:
        index = self.parameters.get(name)
        return None if index is None else self.parameter_sets[index]

    def chunks(self, objects: list[str]) -> Iterator[str]:
        """As JSON: the indexes in the order of ``objects`` (sorted)."""
        yield '{"parameter_sets":'
        yield _compact(list(self.parameter_sets))
        yield ',"parameters":'
        yield _compact([self.parameters[name] for name in objects])
        yield ',"digests":'
        yield _compact(self.digests, sort_keys=True)
        yield "}"

    @classmethod
    def from_document(cls, value: object, objects: list[str]) -> StoredObjects:
        if not isinstance(value, dict):
            raise UnreadableRecord("no stored objects")
        sets = value.get("parameter_sets")
        indexes = value.get("parameters")
        digests = value.get("digests")
        if not (
            isinstance(sets, list)
            and _is_str_list(sets)
            and isinstance(indexes, list)
            and len(indexes) == len(objects)
            and all(isinstance(index, int) for index in indexes)
            and all(0 <= index < len(sets) for index in indexes)
            and isinstance(digests, dict)
            and _is_str_mapping(digests)
        ):
            raise UnreadableRecord("unexpected structure of stored objects")
        parameters = dict(zip(objects, indexes, strict=True))
        return cls(dict(digests), tuple(sets), parameters)


class StoredObjectsBuilder:
    """Collects how each object is stored, keeping each distinct parameter
    set once."""

    def __init__(self) -> None:
        self.digests: dict[str, str] = {}
        self._indexes: dict[str, int] = {}
        self._parameters: dict[str, int] = {}

    def add(self, name: str, parameter_set: str, digest: str | None) -> None:
        index = self._indexes.setdefault(parameter_set, len(self._indexes))
        self._parameters[name] = index
        if digest is not None:
            self.digests[name] = digest

    def build(self) -> StoredObjects:
        return StoredObjects(self.digests, tuple(self._indexes), self._parameters)


def record_text(body: bytes) -> str:
    """A record's bytes as the text ``ReleaseRecord.decode`` takes (this
    package writes records in ASCII)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableRecord(f"not JSON ({error})") from error


def _compact(value: object, *, sort_keys: bool = False) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=sort_keys)


def _is_str_mapping(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    )


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def dirty_sources(record: ReleaseRecord, sources: Mapping[str, str]) -> set[str]:
    """The current sources to hash again: changed or added ones, and every
    file that references a changed, added or removed one, transitively.

    A file that referenced a name outside the recorded sources (resolved to a
    file left in a persistent staging directory, say) is always hashed again:
    nothing recorded says whether that file changed.
    """
    seeds = {
        name for name, digest in sources.items() if record.sources.get(name) != digest
    }
    seeds.update(name for name in record.sources if name not in sources)
    referrers: dict[str, set[str]] = {}
    for referrer, targets in record.references.items():
        for target in targets:
            if target not in record.sources:
                seeds.add(referrer)
            referrers.setdefault(target, set()).add(referrer)
    dirty: set[str] = set()
    pending = list(seeds)
    while pending:
        name = pending.pop()
        if name in dirty:
            continue
        dirty.add(name)
        pending.extend(referrers.get(name, ()))
    return dirty & set(sources)


def references_of(
    previous: Mapping[str, tuple[str, ...]],
    kept: Collection[str],
    recorded: Mapping[str, Collection[str]],
) -> dict[str, tuple[str, ...]]:
    """The new release's references: the ``previous`` release's recorded
    ones of files not hashed again, and those this run's hashing resolved."""
    references = {name: targets for name, targets in previous.items() if name in kept}
    references.update(
        {name: tuple(sorted(targets)) for name, targets in recorded.items() if targets}
    )
    return references


def first_pass_order(names: Iterable[str]) -> list[str]:
    """The order Django's first hashing pass visits files, deepest directory
    first and otherwise as found; Django 5.2 writes the manifest's ``paths``
    in this order (6.0 and later sort them)."""
    return sorted(names, key=lambda name: len(name.split(os.sep)), reverse=True)
