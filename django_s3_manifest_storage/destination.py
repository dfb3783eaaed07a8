"""How each object of a deploy is stored: its key, its upload parameters and
whether it is gzipped, as the storage says.

A deploy needs them several times per name (the parameters digests of the
stamp, the resume record's entries, the uploads), so the storage is asked
once per name and hashed-ness, and the answer is kept for the run.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .fingerprint import parameters_digests
from .plan import is_hashed
from .publish import Upload
from .resume import Entry, file_md5
from .resume import parameters_digest as resume_digest

if TYPE_CHECKING:
    from .staging import Staging


class Destination(Protocol):
    """What deploying needs from the storage: where and how objects go."""

    bucket_name: str

    def object_key(self, name: str) -> str: ...

    def upload_parameters(self, key: str, *, hashed: bool) -> dict[str, Any]: ...

    def should_gzip(self, parameters: dict[str, Any]) -> bool: ...


@dataclass(frozen=True, slots=True)
class Stored:
    """How one object is stored."""

    key: str
    parameters: dict[str, Any]
    """put_object's parameters, as the storage gives them."""
    gzip: bool


class ObjectSettings:
    """The storage's answers for one deploy's objects."""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self._stored: dict[tuple[str, bool], Stored] = {}
        # Most names share their parameters (a content type and a cache
        # policy): one dict per distinct value, not one per name, keeps a
        # 100,000-file deploy's settings in a few MB.
        self._distinct: dict[str, dict[str, Any]] = {}

    def stored(self, name: str, hashed: bool) -> Stored:
        stored = self._stored.get((name, hashed))
        if stored is None:
            key = self.destination.object_key(name)
            given = self.destination.upload_parameters(key, hashed=hashed)
            parameters = self._distinct.setdefault(repr(given), given)
            stored = Stored(key, parameters, self.destination.should_gzip(parameters))
            self._stored[name, hashed] = stored
        return stored

    def parameters(self, name: str, hashed: bool) -> dict[str, Any]:
        """What an object is stored with, ``gzip`` included (it changes the
        stored bytes and Content-Encoding)."""
        stored = self.stored(name, hashed)
        return {**stored.parameters, "gzip": stored.gzip}

    def digests(
        self, names: Collection[str], hashed_names: Collection[str]
    ) -> dict[str, str]:
        """One digest per upload parameter over ``names`` (the stamp's)."""
        return parameters_digests(
            (name, self.parameters(name, is_hashed(name, hashed_names)))
            for name in names
        )

    def resume_entry(self, staging: Staging, name: str, hashed: bool) -> Entry:
        """How ``name`` would be stored: its parameters, and the MD5 of an
        unhashed name's bytes (a hashed name is content-addressed)."""
        parameters = resume_digest(self.parameters(name, hashed))
        return parameters, "" if hashed else file_md5(staging.file(name))

    def upload(self, staging: Staging, name: str, hashed: bool) -> Upload:
        stored = self.stored(name, hashed)
        parameters = dict(stored.parameters)
        if stored.gzip:
            parameters["ContentEncoding"] = "gzip"
        return Upload(
            name=name,
            path=staging.file(name),
            key=stored.key,
            parameters=parameters,
            gzip=stored.gzip,
        )
