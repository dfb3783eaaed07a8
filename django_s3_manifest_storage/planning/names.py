"""The names of a collection: originals, hashed names, compressed variants.

A manifest maps each original name to its hashed name. On S3 a collection
is those names, and the ``.gz``/``.br`` variants written next to them (as
whitenoise does), minus the originals that were not collected (whitenoise's
keep-only-hashed mode removes them).
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterable, Iterator, Mapping, Set
from itertools import chain

COMPRESSED_VARIANT_SUFFIXES = (".gz", ".br")


def variant_base(name: str) -> str | None:
    """The name a compressed variant compresses, or None for other names."""
    for suffix in COMPRESSED_VARIANT_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def is_variant_of(name: str, names: Collection[str]) -> bool:
    base = variant_base(name)
    return base is not None and base in names


def with_variants(names: Iterable[str], present: Collection[str]) -> set[str]:
    """``names`` and those of their compressed variants in ``present``."""
    return add_variants(set(names), present)


def add_variants(names: set[str], present: Collection[str]) -> set[str]:
    """Add to ``names`` their compressed variants in ``present``; return it.
    In place: at 100,000 names each copy of the set is megabytes."""
    variants = [
        name + suffix
        for name in names
        for suffix in COMPRESSED_VARIANT_SUFFIXES
        if name + suffix in present
    ]
    names.update(variants)
    return names


def manifest_names(paths: Mapping[str, str]) -> set[str]:
    """Every name a manifest lists: originals and hashed names."""
    return {*paths, *paths.values()}


def published_names(paths: Mapping[str, str], *, originals: bool) -> set[str]:
    """The names a release put on S3, before compressed variants: its hashed
    names, and its originals unless the hashing storage removed them
    (whitenoise's keep-only-hashed mode)."""
    return manifest_names(paths) if originals else set(paths.values())


def is_hashed(name: str, hashed_names: Collection[str]) -> bool:
    """Whether a name is a hashed name or a compressed variant of one."""
    return name in hashed_names or is_variant_of(name, hashed_names)


def collection_names(
    staged: Collection[str], local_paths: Mapping[str, str]
) -> set[str]:
    """The objects S3 holds for a collection: its hashed names, the
    originals that were collected, and the compressed variants of both."""
    return set(iter_collection_names(staged, local_paths, set(local_paths.values())))


def iter_collection_names(
    staged: Collection[str],
    local_paths: Mapping[str, str],
    hashed_names: Set[str],
) -> Iterator[str]:
    """``collection_names``, each name once, without a set of them all (at
    100,000 files a set of the collection is megabytes, and planning only
    counts or visits it); ``hashed_names``: the set of the mapping's hashed
    names."""

    def collected() -> Iterator[str]:
        """The originals that were collected (and are no hashed name)."""
        return (
            name for name in local_paths if name in staged and name not in hashed_names
        )

    yield from hashed_names
    yield from collected()
    # A variant that is a name of the manifest itself was yielded above, or
    # is an original that was not collected (not an object of the
    # collection): either way, not again. Two bases never give one variant.
    for base in chain(hashed_names, collected()):
        for suffix in COMPRESSED_VARIANT_SUFFIXES:
            variant = base + suffix
            if (
                variant in staged
                and variant not in hashed_names
                and variant not in local_paths
            ):
                yield variant


def objects_of(
    objects: Collection[str], sources: Iterable[str], paths: Mapping[str, str]
) -> set[str]:
    """The recorded objects of ``sources``: each one's original, its hashed
    name in ``paths`` and their compressed variants. An original or a
    hashed name is kept as the string of ``sources`` or ``paths``, not of
    ``objects``: the record's strings can then be let go."""
    owned = {
        name: name for source in sources for name in (source, paths.get(source)) if name
    }
    # Only a name that could be a variant is asked whether the manifest
    # lists it: a set of those few, not of every name.
    listed_variants = {
        name for name in chain(paths, paths.values()) if variant_base(name) is not None
    }
    return {
        owned.get(name, name)
        for name in objects
        if name in owned or (name not in listed_variants and is_variant_of(name, owned))
    }


def is_clean(name: str) -> bool:
    """A name whose key is the location joined with it, as it is: every name
    in a manifest is one."""
    return (
        "\\" not in name
        and not name.startswith(("/", ".."))
        and posixpath.normpath(name) == name
    )
