"""Upload progress: a bar on a terminal, a line every 10 seconds elsewhere.

The bar needs ``tqdm`` (the ``progress`` extra); without it, or when the
output is not a terminal (CI logs), progress is a plain line at most every
``LINE_INTERVAL`` seconds, so logs stay short. Nothing shows for uploads
that finish within ``QUIET_SECONDS``.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

from .command import CommandOptions

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
