"""What each file hashing rewrites references, as the hashing storage
resolves it; and, for incremental hashing, the deployed hashed names of the
files not hashed again.

The hashing storage's own ``url_converter`` finds and resolves references
(whatever its ``patterns`` match, CSS ``url()`` and ``@import``, JS imports,
source maps); while one of its converters runs, each name it looks up goes
through ``hash_key`` and, when it was not hashed in this pass,
``hashed_name``. Wrapping those three public hooks on the hashing instance,
for the duration of the hashing only, records the reference graph without
repeating Django's parsing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

WRAPPED_HOOKS = ("url_converter", "hash_key", "hashed_name")


class NeedsFullPass(Exception):
    """Incremental hashing cannot reproduce what a full pass would."""


def referenced_file(name: str) -> str:
    """The file a looked-up name stands for (as ``hashed_name`` reads it)."""
    return urlsplit(unquote(name)).path.strip()


def _is_plain(name: str) -> bool:
    return referenced_file(name) == name and "?" not in name and "#" not in name


class ReferenceRecorder:
    """Records ``{file: names it references}`` while a hasher hashes.

    ``kept`` maps the files not hashed again (incremental hashing) to their
    deployed hashed names; a reference to one resolves to that name, as a
    full pass would resolve it. ``adjustable`` tells whether a file is one
    hashing rewrites: its hashed name is not the hash of its staged original,
    so a reference to it that a plain name cannot express needs a full pass.
    ``materialize`` makes a staged original readable before the hasher reads
    it.
    """

    def __init__(
        self,
        *,
        kept: Mapping[str, str] | None = None,
        adjustable: Callable[[str], bool] = lambda name: False,
        materialize: Callable[[str], None] = lambda name: None,
    ) -> None:
        self.references: dict[str, set[str]] = {}
        self.kept = kept or {}
        self.adjustable = adjustable
        self.materialize = materialize
        # Run time may use the same storage from other threads meanwhile.
        self._converting = threading.local()

    def _referrer(self) -> str | None:
        referrer: str | None = getattr(self._converting, "referrer", None)
        return referrer

    @contextmanager
    def installed(self, hasher: Any) -> Iterator[None]:
        """Wrap the hasher's hooks while the block runs."""
        url_converter = hasher.url_converter
        hash_key = hasher.hash_key
        hashed_name = hasher.hashed_name
        shadowed = {
            name: vars(hasher)[name] for name in WRAPPED_HOOKS if name in vars(hasher)
        }

        def recording_url_converter(name: str, *args: Any, **kwargs: Any) -> Any:
            convert = url_converter(name, *args, **kwargs)

            def converter(match: Any) -> Any:
                self._converting.referrer = name
                try:
                    return convert(match)
                finally:
                    self._converting.referrer = None

            return converter

        def recording_hash_key(name: str) -> Any:
            referrer = self._referrer()
            if referrer is not None:
                self.references.setdefault(referrer, set()).add(referenced_file(name))
            return hash_key(name)

        def resolving_hashed_name(
            name: str, content: Any = None, filename: Any = None
        ) -> Any:
            if self._referrer() is None or content is not None or filename is not None:
                return hashed_name(name, content, filename)
            target = referenced_file(name)
            deployed = self.kept.get(target)
            if deployed is None:
                self.materialize(target)
                return hashed_name(name)
            if _is_plain(name):
                return deployed
            if self.adjustable(target):
                raise NeedsFullPass(
                    f"a changed file references {name!r}, which hashing "
                    "rewrites, with a query or fragment"
                )
            self.materialize(target)
            return hashed_name(name)

        hasher.url_converter = recording_url_converter
        hasher.hash_key = recording_hash_key
        hasher.hashed_name = resolving_hashed_name
        try:
            yield
        finally:
            for name in WRAPPED_HOOKS:
                if name in shadowed:
                    setattr(hasher, name, shadowed[name])
                else:
                    delattr(hasher, name)
