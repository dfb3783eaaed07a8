"""The options of the ``collectstatic`` run a storage is working for.

Django passes only ``dry_run`` to ``post_process``, yet the deploy must honour
``--clear`` and ``--verbosity`` and write to the command's output (which
``call_command(stdout=...)`` may redirect). ``collectstatic`` iterates
``post_process`` from its own ``collect()`` method, so the command instance is
a caller of the generator: it is found on the stack, read, never changed.
Outside ``collectstatic`` the defaults apply.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from types import FrameType
from typing import Any, TextIO

from django.contrib.staticfiles.management.commands.collectstatic import (
    Command as CollectstaticCommand,
)

# collect() -> post_process generator -> this module: a few frames at most.
SEARCH_DEPTH = 8


@dataclass(frozen=True)
class CommandOptions:
    verbosity: int = 1
    clear: bool = False
    stdout: Any = None

    def write(self, message: str, level: int = 1) -> None:
        """Write a line to the command's output at this verbosity level."""
        if self.verbosity < level:
            return
        stream: TextIO = self.stdout or sys.stdout
        stream.write(message + ("" if message.endswith("\n") else "\n"))


def current_command_options() -> CommandOptions:
    """The running collectstatic's options, or defaults outside it."""
    frame: FrameType | None = sys._getframe(1)
    for _ in range(SEARCH_DEPTH):
        if frame is None:
            break
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, CollectstaticCommand):
            return CommandOptions(
                verbosity=int(getattr(candidate, "verbosity", 1)),
                clear=bool(getattr(candidate, "clear", False)),
                stdout=getattr(candidate, "stdout", None),
            )
        frame = frame.f_back
    return CommandOptions()
