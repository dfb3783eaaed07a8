"""Incremental hashing: which files must be hashed again, from the record
published with the deployed release. Pure logic, no I/O.

A release's *record* (``staticfiles.json.sources`` next to the manifest)
holds each source's content digest, the references each file hashing
rewrites makes (as the hashing storage resolved them), and the names of the
collection's files in the staging directory (originals, hashed names,
compressed variants). With it, a deploy whose context equals the deployed
one's hashes only:

* the sources whose bytes changed, and the added ones;
* every file that references a changed, added or removed one, transitively
  (its hashed name depends on theirs).

Every other file keeps its hashed name from the deployed manifest: its bytes
and the hashed names it references are those the deployed release was made
from, and hashing is a function of both.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

RECORD_VERSION = 1


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

    def encode(self) -> bytes:
        document = {
            "version": RECORD_VERSION,
            "sources": dict(sorted(self.sources.items())),
            "references": {
                name: sorted(targets)
                for name, targets in sorted(self.references.items())
            },
            "objects": sorted(self.objects),
        }
        return json.dumps(document, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes) -> ReleaseRecord:
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, ValueError) as error:
            raise UnreadableRecord(f"not JSON ({error})") from error
        if not isinstance(document, dict) or document.get("version") != RECORD_VERSION:
            raise UnreadableRecord("not a version 1 record")
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
        return cls(
            dict(sources),
            {name: tuple(targets) for name, targets in references.items()},
            tuple(objects),
        )


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
    record: ReleaseRecord,
    kept: Collection[str],
    recorded: Mapping[str, Collection[str]],
) -> dict[str, tuple[str, ...]]:
    """The new release's references: the recorded ones of files not hashed
    again, and those this run's hashing resolved."""
    references = {
        name: targets for name, targets in record.references.items() if name in kept
    }
    references.update(
        {name: tuple(sorted(targets)) for name, targets in recorded.items() if targets}
    )
    return references


def first_pass_order(names: Iterable[str]) -> list[str]:
    """The order Django's first hashing pass visits files, deepest directory
    first and otherwise as found; Django 5.2 writes the manifest's ``paths``
    in this order (6.0 and later sort them)."""
    return sorted(names, key=lambda name: len(name.split(os.sep)), reverse=True)
