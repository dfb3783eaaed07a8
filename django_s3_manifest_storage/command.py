"""The collectstatic run a storage is working for.

Django passes only ``dry_run`` to ``post_process``, and nothing at all to the
file operations collectstatic makes before it; yet the storage must know
that a run started (its file operations are then local), and honour
``--clear``, ``--verbosity`` and the command's output (which
``call_command(stdout=...)`` may redirect). collectstatic calls the storage
from a few methods of its ``Command``, so the command instance is found on
the stack, read, never changed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from types import FrameType
from typing import Any, TextIO

from django.contrib.staticfiles.management.commands.collectstatic import (
    Command as CollectstaticCommand,
)

# The storage call, a wrapper or two, then one of collectstatic's methods.
SEARCH_DEPTH = 6
# collectstatic's methods that call the storage (a subclass overriding them
# calls super(), so these frames are on the stack too).
CALLING_METHODS = frozenset(
    {"collect", "copy_file", "link_file", "delete_file", "clear_dir", "handle"}
)


@dataclass(frozen=True)
class CommandOptions:
    verbosity: int = 1
    clear: bool = False
    dry_run: bool = False
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
            stdout=getattr(command, "stdout", None),
        )

    def write(self, message: str, level: int = 1) -> None:
        """Write a line to the command's output at this verbosity level."""
        if self.verbosity < level:
            return
        stream: TextIO = self.stdout or sys.stdout
        stream.write(message + ("" if message.endswith("\n") else "\n"))


def collectstatic_command_on_stack() -> CollectstaticCommand | None:
    """The collectstatic command calling the storage, or None at run time."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(SEARCH_DEPTH):
        if frame is None:
            return None
        if frame.f_code.co_name in CALLING_METHODS:
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, CollectstaticCommand):
                return candidate
        frame = frame.f_back
    return None
