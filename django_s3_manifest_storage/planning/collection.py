"""The collection a run staged, read once when hashing is done: the
manifest it wrote, that manifest's mapping, and the staged files that
belong to it. The release's record and the deploy plan are both made from
it. Pure logic: the reading is the caller's.

At 100,000 files every set of names is megabytes, and every string a name
is read into again is about a hundred bytes more per file; so the staged
names are filtered as they are read, and a name of the manifest is kept as
the manifest's own string.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Set
from dataclasses import dataclass
from itertools import chain
from typing import TypeVar

from .names import is_variant_of

_Item = TypeVar("_Item")


@dataclass(frozen=True)
class StagedCollection:
    manifest: bytes
    """The manifest's bytes, as they are uploaded."""

    paths: Mapping[str, str]
    """Its ``{original name: hashed name}`` mapping."""

    hashed_names: Set[str]
    """The mapping's hashed names."""

    objects: Set[str]
    """The staged names that belong to the collection: originals, hashed
    names and their compressed variants (those S3 holds already and an
    incremental pass did not stage included). Every name planning asks
    about is one of these kinds, so the other staged files (the record of
    sources, the manifest itself, a persistent directory's leftovers) are
    not kept."""

    def manifest_names(self) -> Iterator[str]:
        """Every name the manifest lists, once: originals and hashed names."""
        yield from self.paths
        yield from (name for name in self.hashed_names if name not in self.paths)


def staged_collection(
    manifest: bytes,
    paths: Mapping[str, str],
    staged: Iterable[str],
    also_staged: Set[str] = frozenset(),
) -> StagedCollection:
    """The collection of ``manifest`` (``paths``: its mapping) among the
    ``staged`` names (any iterable, read once; repeats allowed), with
    ``also_staged``: names of the collection S3 holds already (the objects
    an incremental pass kept), used as they are rather than copied."""
    own: dict[str, str] = {}
    for original, hashed in paths.items():
        own[original] = original
        own[hashed] = hashed
    if not all(name in own or is_variant_of(name, own) for name in also_staged):
        # Not the case for what an incremental pass keeps; kept correct all
        # the same, with a copy of those that belong.
        also_staged = {own.get(name, name) for name in also_staged}
        also_staged = {
            name for name in also_staged if name in own or is_variant_of(name, own)
        }
    objects: set[str] = set()
    for name in staged:
        if name in also_staged:
            continue
        kept = own.get(name)
        if kept is not None:
            objects.add(kept)
        elif is_variant_of(name, own):
            objects.add(name)
    return StagedCollection(
        manifest,
        paths,
        frozenset(paths.values()),
        BothNames(objects, also_staged) if also_staged else objects,
    )


class BothNames(Set[str]):
    """Two disjoint sets of names as one, without a third holding both (at
    100,000 files a set of names is megabytes)."""

    def __init__(self, first: Set[str], second: Set[str]) -> None:
        self.first = first
        self.second = second

    def __contains__(self, name: object) -> bool:
        return name in self.first or name in self.second

    def __iter__(self) -> Iterator[str]:
        return chain(self.first, self.second)

    def __len__(self) -> int:
        return len(self.first) + len(self.second)

    def __repr__(self) -> str:
        return f"BothNames({self.first!r}, {self.second!r})"

    @classmethod
    def _from_iterable(cls, items: Iterable[_Item]) -> set[_Item]:
        # What the Set mixins (``&``, ``|``...) build: a plain set.
        return set(items)
