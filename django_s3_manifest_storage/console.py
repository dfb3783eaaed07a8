"""What the person running a command sees: the command's options and
output, the summary of a deploy or the plan of a dry run, and upload
progress.

Django passes only ``dry_run`` to ``post_process``; the run reads
``--clear``, ``--verbosity`` and the command's output (which
``call_command(stdout=...)`` may redirect) from the command itself
(``run_mode.collectstatic_command_on_stack``).

Progress is a bar on a terminal (``tqdm``, the ``progress`` extra), else a
plain line at most every ``LINE_INTERVAL`` seconds, so CI logs stay short.
Nothing shows for uploads that finish within ``QUIET_SECONDS``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO


@dataclass(frozen=True)
class CommandOptions:
    verbosity: int = 1
    clear: bool = False
    dry_run: bool = False
    symlink: bool = False
    stdout: Any = None

    @classmethod
    def of(cls, command: Any) -> CommandOptions:
        """The options of a running collectstatic (defaults for None)."""
        if command is None:
            return cls()
        return cls(
            verbosity=int(getattr(command, "verbosity", 1)),
            clear=bool(getattr(command, "clear", False)),
            dry_run=bool(getattr(command, "dry_run", False)),
            symlink=bool(getattr(command, "symlink", False)),
            stdout=getattr(command, "stdout", None),
        )

    def write(self, message: str, level: int = 1) -> None:
        """Write a line to the command's output at this verbosity level."""
        if self.verbosity < level:
            return
        stream: TextIO = self.stdout or sys.stdout
        stream.write(message + ("" if message.endswith("\n") else "\n"))


@dataclass(frozen=True)
class PublishReport:
    destination: str
    uploaded: tuple[str, ...]
    """Every object this run stored: the count equals the PUTs S3 saw (one
    per object, or one multipart upload)."""
    uploaded_bytes: int
    unchanged: int
    seconds: float
    deleted: tuple[str, ...] = ()
    left_alone: int = 0
    """Objects under the location that belong to no release (retention)."""
    reused_deployed: bool = False
    resumed: int = 0
    """Objects a failed run had stored, not sent again (among ``unchanged``)."""
    full_upload_reason: str | None = None
    """Why every file was uploaded, when the deployed ones could not be reused."""
    hashing: Hashing | None = None
    """Which hashing pass ran (None: hashing was skipped)."""
    headers_updated: tuple[str, ...] = ()
    """Objects whose upload parameters were replaced in place, their bytes
    left on S3: one server-side copy each."""

    def summary(self) -> str:
        how = " (no source changed: hashing skipped)" if self.reused_deployed else ""
        deleted = f", {len(self.deleted)} deleted" if self.deleted else ""
        resumed = (
            f" ({self.resumed} stored by the previous, failed run)"
            if self.resumed
            else ""
        )
        why = (
            f" Everything was uploaded: {self.full_upload_reason}."
            if self.full_upload_reason
            else ""
        )
        hashing = f" {self.hashing.summary()}" if self.hashing else ""
        headers = (
            f", {len(self.headers_updated)} headers updated"
            if self.headers_updated
            else ""
        )
        return (
            f"Published to {self.destination}: {len(self.uploaded)} file(s) "
            f"uploaded ({self.uploaded_bytes:,} bytes){headers}, {self.unchanged} "
            f"unchanged{resumed}{deleted}, in {self.seconds:.1f}s{how}.{why}"
            f"{left_alone_note(self.destination, self.left_alone)}{hashing}"
        )


def left_alone_note(destination: str, count: int) -> str:
    if not count:
        return ""
    return f" {count} object(s) under {destination} belong to no release; left alone."


@dataclass(frozen=True)
class Hashing:
    """Which hashing pass a run made, and on how many of its sources."""

    hashed: int
    sources: int
    incremental: bool
    full_reason: str | None = None
    """Why a full pass ran when incremental hashing is on."""
    hashed_names: tuple[str, ...] = field(default=(), repr=False)
    """The sources hashed."""
    unpublished_originals: int = 0
    """Originals the hashing storage removed (a full pass only)."""
    removed_by: str = "removed by the hashing storage"
    """What removed them: the setting to name."""

    def summary(self) -> str:
        if self.incremental:
            return (
                f"Hashing: incremental, {self.hashed} of {self.sources} file(s) hashed."
            )
        why = f" ({self.full_reason})" if self.full_reason else ""
        removed = (
            f" {self.unpublished_originals:,} originals not published "
            f"({self.removed_by})."
            if self.unpublished_originals
            else ""
        )
        return f"Hashing: full, {self.sources} file(s) hashed{why}.{removed}"


@dataclass(frozen=True)
class DryRunReport:
    destination: str
    uploads: tuple[str, ...]
    upload_bytes: int
    unchanged: int
    deletions: tuple[str, ...]
    full_upload_reason: str | None = None
    left_alone: int = 0
    header_updates: tuple[str, ...] = ()
    """Objects whose upload parameters would be replaced in place."""

    def write_to(self, command: CommandOptions) -> None:
        why = (
            f" Everything would be uploaded: {self.full_upload_reason}."
            if self.full_upload_reason
            else ""
        )
        headers = (
            f", {len(self.header_updates)} headers updated"
            if self.header_updates
            else ""
        )
        command.write(
            f"Dry run: {len(self.uploads)} file(s) ({self.upload_bytes:,} bytes) "
            f"would be uploaded to {self.destination}{headers}, {self.unchanged} "
            "unchanged." + why
        )
        for name in self.uploads:
            command.write(f"  would upload {name}", level=2)
        for name in self.header_updates:
            command.write(f"  would update the headers of {name}", level=2)
        if self.deletions:
            command.write(
                f"Dry run: {len(self.deletions)} stale object(s) would be deleted."
            )
            for name in self.deletions:
                command.write(f"  would delete {name}", level=2)
        if self.left_alone:
            command.write(
                f"Dry run:{left_alone_note(self.destination, self.left_alone)}"
            )


# Progress ------------------------------------------------------------------

QUIET_SECONDS = 2.0
LINE_INTERVAL = 10.0


class Progress(Protocol):
    def advance(self, size: int) -> None: ...

    def close(self) -> None: ...


class PeriodicLines:
    """At most one line every ``interval`` seconds."""

    def __init__(
        self, command: CommandOptions, files: int, total_bytes: int, interval: float
    ) -> None:
        self.command = command
        self.files = files
        self.total_bytes = total_bytes
        self.interval = interval
        self.started = time.monotonic()
        self.last_line = self.started
        self.done_files = 0
        self.done_bytes = 0

    def advance(self, size: int) -> None:
        self.done_files += 1
        self.done_bytes += size
        now = time.monotonic()
        if now - self.last_line >= self.interval:
            self.last_line = now
            rate = self.done_bytes / max(now - self.started, 1e-9) / 1e6
            self.command.write(
                f"Uploading: {self.done_files}/{self.files} files, "
                f"{self.done_bytes / 1e6:.1f}/{self.total_bytes / 1e6:.1f} MB, "
                f"{rate:.1f} MB/s"
            )

    def close(self) -> None:
        pass


class Bar:
    """A tqdm bar on the terminal (stderr, like other progress bars), shown
    after a short delay."""

    def __init__(self, files: int, tqdm: Any) -> None:
        self.bar = tqdm(
            total=files,
            unit="file",
            desc="Uploading",
            delay=QUIET_SECONDS,
            file=sys.stderr,
            leave=False,
        )
        self.bytes = 0

    def advance(self, size: int) -> None:
        self.bytes += size
        self.bar.set_postfix_str(f"{self.bytes / 1e6:.1f} MB", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def upload_progress(command: CommandOptions, files: int, total_bytes: int) -> Progress:
    if command.verbosity < 1:
        return PeriodicLines(command, files, total_bytes, interval=float("inf"))
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            return Bar(files, tqdm)
    return PeriodicLines(command, files, total_bytes, interval=LINE_INTERVAL)
