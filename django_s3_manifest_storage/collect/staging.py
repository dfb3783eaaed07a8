"""The staging directory of one run: where collectstatic's files land.

``collectstatic`` saves every found file into the storage before
post-processing. When no source changed since the deployed release, nothing
reads those copies (hashing and uploads are skipped), so copying thousands of
files would be the bulk of a redeploy's work. A save of a file that lives on
disk is therefore recorded, and the copy is made on first use: when the file
is listed, or its path asked for.

A temporary directory goes further: nobody reads it but this run, so a
deferred file is read from its source (``file``, ``open``) and never copied.
On some file systems creating a file costs more than uploading it (about
0.6 ms of system CPU per file here, against about 0.5 ms per PUT).

While collectstatic copies, a temporary directory holds only what this
class put there, so whether a name is on disk is answered from memory: the
copy loop asks for every file (``exists``, ``delete``, ``save``), and each
answer from the disk costs a path check and a system call or two. Once
something else may write into the directory (hashing, whitenoise's
compression, anyone given a path), the disk is asked.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping, Set
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.core.files.base import File
from django.core.files.storage import FileSystemStorage
from django.core.files.utils import validate_file_name

from ..errors import PublishError
from ..planning.collection import StagedCollection, staged_collection
from ..planning.fingerprint import content_digest
from ..planning.manifest import InvalidManifest, parse_manifest_paths, same_items

TEMPORARY_PREFIX = "s3-manifest-staging-"


def walk_names(root: Path) -> Iterator[str]:
    """Names (relative, with ``/``) of every file under the staging
    directory, as the walk finds them."""
    for directory, _subdirectories, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        yield from (prefix + file_name for file_name in files)


def staged_names(root: Path) -> set[str]:
    """Names (relative, with ``/``) of every file under the staging directory."""
    return set(walk_names(root))


def digest_found_files(paths: Mapping[str, tuple[Any, str]]) -> list[tuple[str, str]]:
    """Content digests of collectstatic's found files: ``{name: (storage, path)}``."""
    digests = []
    for name, (storage, path) in paths.items():
        try:
            # A plain file object: Django's File wrapper costs more than reading.
            source: IO[bytes] = open(storage.path(path), "rb")  # noqa: SIM115
        except NotImplementedError:
            source = storage.open(path)
        with source:
            digests.append((name, content_digest(source)))
    return digests


def plain_relative_name(name: str) -> bool:
    """Whether ``name`` is plainly safe to stage (collectstatic's names
    nearly always are): relative, with ``/``, no ``..`` and a file name.
    Django's ``validate_file_name`` checks the others, and raises on unsafe
    ones; it costs more than the rest of a deferred save."""
    return (
        not name.startswith("/")
        and ".." not in name
        and "\\" not in name
        and not name.endswith("/")
        and name not in ("", ".")
        and not name.endswith("/.")
    )


def filesystem_source(content: Any) -> str | None:
    """The on-disk path of a file object opened from a FileSystemStorage."""
    name = getattr(content, "name", None)
    if isinstance(name, str) and os.path.isabs(name) and os.path.isfile(name):
        return name
    return None


class DeferredCopies:
    """Pending ``name -> source path`` copies into a staging root.

    One entry per collected file. A source is nearly always its finder's
    directory followed by the name itself (``/app/static/`` + ``css/a.css``):
    then only that directory is kept, one string shared by its thousands of
    files; a full path string per file costs about 150 bytes more.
    """

    def __init__(self) -> None:
        # name -> the source's directory (the name follows it) or its path.
        self._pending: dict[str, str] = {}
        self._directories: dict[str, _Directory] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._pending

    def __len__(self) -> int:
        return len(self._pending)

    def names(self) -> Iterable[str]:
        return self._pending.keys()

    def record(self, name: str, source: str) -> None:
        if not source.endswith("/" + name):
            self._pending[name] = source
            return
        directory = source[: -len(name)]
        shared = self._directories.get(directory)
        if shared is None:
            shared = self._directories[directory] = _Directory(directory)
        self._pending[name] = shared

    def source(self, name: str) -> str | None:
        """The path the pending copy of ``name`` is made from, if any."""
        kept = self._pending.get(name)
        return kept + name if isinstance(kept, _Directory) else kept

    def forget(self, name: str) -> None:
        self._pending.pop(name, None)

    def materialize(self, root: Path, name: str) -> bool:
        """Copy ``name`` if its copy is pending; whether it was."""
        source = self.source(name)
        if source is None:
            return False
        del self._pending[name]
        _copy(source, root / name)
        return True

    def materialize_all(self, root: Path) -> list[str]:
        """Make every pending copy; the names copied."""
        names = list(self._pending)
        for name in names:
            self.materialize(root, name)
        return names


class _Directory(str):
    """A source's directory, kept in place of the path: the name follows."""

    __slots__ = ()


def _copy(source: str, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)


class Staging:
    """A directory with the file operations collectstatic and hashing make.

    ``persistent`` is a directory that outlives the run (the ``staging_dir``
    option); without one, a temporary directory is made
    and :meth:`discard` removes it.
    """

    def __init__(self, persistent: Path | None) -> None:
        self.temporary = persistent is None
        self.root = (
            Path(tempfile.mkdtemp(prefix=TEMPORARY_PREFIX))
            if persistent is None
            else persistent
        )
        self.deferred = DeferredCopies()
        # Files here are served from S3, never from this directory's URL.
        # Saving a name that exists overwrites it, as S3 does: a staged file
        # never gets another name (Django would take it for a hashed name).
        self.files = FileSystemStorage(
            location=str(self.root), base_url="/", allow_overwrite=True
        )
        # The names written into a temporary directory by this class; None
        # once others may write there too (and for a persistent directory,
        # which holds earlier runs' files): then the disk is asked.
        self._written: set[str] | None = set() if self.temporary else None

    def shared(self) -> None:
        """From now on, others write into the directory too (hashing)."""
        self._written = None

    def _on_disk(self, name: str) -> bool:
        if self._written is None:
            return self.files.exists(name)
        return name in self._written

    def materialize(self, name: str) -> None:
        """Make ``name``'s pending copy, if any."""
        if self.deferred.materialize(self.root, name) and self._written is not None:
            self._written.add(name)

    def discard(self) -> None:
        """Remove a temporary directory; a persistent one stays."""
        self.deferred = DeferredCopies()
        if self.temporary:
            shutil.rmtree(self.root, ignore_errors=True)

    def materialize_all(self) -> None:
        copied = self.deferred.materialize_all(self.root)
        if self._written is not None:
            self._written.update(copied)

    def file(self, name: str) -> Path:
        """Where the staged file ``name`` can be read: its source, while its
        copy is deferred."""
        source = self.deferred.source(name)
        return self.root / name if source is None else Path(source)

    def names(self) -> Iterator[str]:
        """Every staged name, deferred copies included (a name may come
        twice)."""
        yield from walk_names(self.root)
        yield from self.deferred.names()

    def collection(
        self,
        manifest_name: str,
        also_staged: Set[str],
        hashed_files: Mapping[str, str] | None,
    ) -> StagedCollection:
        """The collection hashing left here, read once: the manifest
        ``manifest_name``, and the staged files it lists (with
        ``also_staged``, the names of the collection S3 holds already and
        an incremental pass did not stage). ``hashed_files``: the hashing
        storage's mapping, whose strings are kept when the manifest holds
        exactly it (collectstatic keeps that storage alive to the end: a
        parsed copy would be a second string per name)."""
        path = self.root / manifest_name
        try:
            manifest = path.read_bytes()
            paths: Mapping[str, str] = parse_manifest_paths(manifest)
        except (OSError, InvalidManifest) as problem:
            # Raised before anything is uploaded or recorded.
            raise PublishError(
                f"The manifest just written to {path} is unusable ({problem}); "
                "nothing was uploaded."
            ) from problem
        if hashed_files is not None and same_items(paths, hashed_files):
            paths = hashed_files  # not changed once hashing is done
        return staged_collection(manifest, paths, self.names(), also_staged)

    def save_processed(self, name: str, content: IO[Any]) -> str:
        """Save what hashing produced. A temporary directory records a file
        saved unchanged from disk (Django saves an image's hashed copy so)
        like collectstatic's copies; anything else is written at once."""
        if self.temporary:
            return self.save(name, content)
        return self._write(name, content)

    def stage_source(self, name: str, source: str | Path) -> None:
        """Make ``source`` the staged file ``name`` (copied on first use)."""
        if not self.exists(name):
            self.deferred.record(name, str(source))

    def stage_found(
        self,
        paths: Mapping[str, tuple[Any, str]],
        needed: Collection[str] | None = None,
    ) -> None:
        """Every found file in the staging directory (collectstatic saved
        them, unless this is a dry run or post_process was called directly);
        only the ``needed`` ones are copied, when given (``()``: none, the
        others are read from their sources)."""
        for name, (source_storage, path) in paths.items():
            if self.exists(name):
                continue
            try:
                self.stage_source(name, source_storage.path(path))
            except NotImplementedError:
                with source_storage.open(path) as source:
                    self.files.save(name, source)
        if needed is None:
            self.materialize_all()
            return
        for name in needed:
            self.materialize(name)

    # Storage API, as collectstatic and Django's hashing call it -------------

    def path(self, name: str) -> str:
        # Whoever has a path may write there, or beside it (whitenoise's
        # ``.gz``): the disk is asked from now on.
        self.shared()
        self.deferred.materialize(self.root, name)
        return self.files.path(name)

    def exists(self, name: str) -> bool:
        return name in self.deferred or self._on_disk(name)

    def open(self, name: str, mode: str = "rb") -> File:  # type: ignore[type-arg]
        if self.temporary and mode == "rb" and name in self.deferred:
            return File(self.file(name).open("rb"))
        if mode != "rb":
            self.shared()  # written through a file object
        self.materialize(name)
        return self.files.open(name, mode)

    def save(
        self, name: str | None, content: IO[Any], max_length: int | None = None
    ) -> str:
        """Stage ``content`` as ``name``, replacing what is staged there. A
        file on disk is recorded, not copied, unless a written file holds
        the name already."""
        source = filesystem_source(content)
        if name is None or source is None or self._on_disk(name):
            return self._write(name, content, max_length)
        if not plain_relative_name(name):
            validate_file_name(name, allow_relative_path=True)
        self.deferred.record(name, source)
        return name

    def _write(
        self, name: str | None, content: IO[Any], max_length: int | None = None
    ) -> str:
        """Write ``content`` as ``name``, overwriting it."""
        if name is not None:
            self.deferred.forget(name)
            source = filesystem_source(content)
            if source is not None and self._holds(name, source):
                # Saved onto itself (a subclass that writes the staged file
                # first, then saves it through the storage): writing would
                # empty it.
                return name
        saved = self.files.save(name, content, max_length)
        if self._written is not None:
            self._written.add(saved)
        return saved

    def _holds(self, name: str, source: str) -> bool:
        """Whether the staged file ``name`` is the file ``source``."""
        if not self._on_disk(name):
            return False
        path = self.root / name
        return path.exists() and os.path.samefile(path, source)

    def delete(self, name: str) -> None:
        self.deferred.forget(name)
        if self._on_disk(name):
            self.files.delete(name)
            if self._written is not None:
                self._written.discard(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        self.materialize_all()
        return self.files.listdir(path)

    def size(self, name: str) -> int:
        self.materialize(name)
        return self.files.size(name)

    def get_modified_time(self, name: str) -> datetime:
        self.materialize(name)
        return self.files.get_modified_time(name)

    def get_accessed_time(self, name: str) -> datetime:
        self.materialize(name)
        return self.files.get_accessed_time(name)

    def get_created_time(self, name: str) -> datetime:
        self.materialize(name)
        return self.files.get_created_time(name)
