"""collectstatic's file operations, local during a run and S3's outside it.

A run starts when collectstatic first calls the storage (its ``Command`` is
found on the stack) and ends when ``post_process`` returns or raises. Each
file operation asks which run it belongs to: during one, it goes to the
run's staging directory; at run time (no run, or another thread's), to the
next class in the MRO, django-storages' S3 storage.
"""

from __future__ import annotations

import sys
import threading
import weakref
from types import CodeType, FrameType
from typing import IO, TYPE_CHECKING, Any

from django.contrib.staticfiles.management.commands.collectstatic import (
    Command as CollectstaticCommand,
)
from django.core.files.base import File
from django.core.management.base import CommandError

from .collect.run import CollectRun
from .collect.run_setup import RunSetup
from .console import CommandOptions

if TYPE_CHECKING:
    from datetime import datetime

    from django.core.files.storage import Storage

    StorageBase = Storage
else:
    StorageBase = object

# The storage call, a wrapper or two, then one of collectstatic's methods.
SEARCH_DEPTH = 6
# collectstatic's methods that call the storage (a subclass overriding them
# calls super(), so these frames are on the stack too).
CALLING_METHODS = frozenset(
    {"collect", "copy_file", "link_file", "delete_file", "clear_dir", "handle"}
)


class RunModeFileOperations(StorageBase):
    """A mixin for the storage class, before the S3 storage in its MRO."""

    _run: CollectRun | None
    _run_lock: threading.Lock
    # The run, and the id and code of its command's frame that calls the
    # storage for every file: see _called_from_its_command.
    _run_caller: tuple[CollectRun, int, CodeType] | None = None

    if TYPE_CHECKING:
        # Given by the storage class.
        def _run_setup(self) -> RunSetup: ...

    def _current_run(self) -> CollectRun | None:
        """The run this call belongs to, starting one when collectstatic
        calls for the first time; None at run time."""
        run = self._run
        if run is not None and run.belongs_to_this_thread():
            if run.post_processing or self._called_from_its_command(run):
                return run
            command, caller = collectstatic_caller_on_stack()
            if command is None or run.is_for(command):
                if caller is not None:
                    self._run_caller = (run, id(caller), caller.f_code)
                return run
            # A run collectstatic abandoned (it failed before post_process).
            self._end_run(run)
            return self._start_run(command)
        if run is not None:
            return None  # another thread's run: this thread is at run time
        command = collectstatic_command_on_stack()
        return None if command is None else self._start_run(command)

    def _called_from_its_command(self, run: CollectRun) -> bool:
        """Whether the frame of ``run``'s command that calls the storage for
        every file (``collect``) is on the stack: identity checks, no
        ``f_locals``, for each of collectstatic's thousands of calls.

        The frame is known by id, not held: a frame holds its command, and
        the run must not keep the command of a failed collectstatic alive
        (see ``_start_run``). An id can be reused only once that frame is
        gone, and then so is its command, with the run, unless the command
        is kept elsewhere; the code object must match too."""
        caller = self._run_caller
        if caller is None or caller[0] is not run:
            return False
        _, frame_id, code = caller
        frame: FrameType | None = sys._getframe(3)
        for _ in range(SEARCH_DEPTH):
            if frame is None:
                return False
            if id(frame) == frame_id and frame.f_code is code:
                return True
            frame = frame.f_back
        return False

    def _start_run(self, command: Any) -> CollectRun:
        options = CommandOptions.of(command)
        if options.symlink:
            # As the stock class: the files end up on S3, not beside a link.
            raise CommandError("Can't symlink to a remote destination.")
        with self._run_lock:
            run = CollectRun(self._run_setup(), options, command)
            self._run = run
        if command is not None:
            # collectstatic failed before post_process: clean up when its
            # command goes away, or at exit (Ctrl-C included).
            weakref.finalize(command, self._end_run, run)
        return run

    def _end_run(self, run: CollectRun) -> None:
        with self._run_lock:
            if self._run is run:
                self._run = None
        run.close()

    def path(self, name: str) -> str:
        run = self._current_run()
        if run is None:
            return super().path(name)
        return run.path(name)

    def exists(self, name: str) -> bool:
        run = self._current_run()
        if run is None:
            return super().exists(name)
        return run.exists(name)

    def open(self, name: str, mode: str = "rb") -> File:  # type: ignore[type-arg]
        run = self._current_run()
        if run is None:
            return super().open(name, mode)
        return run.staging.open(name, mode)

    def save(
        self, name: str | None, content: IO[Any], max_length: int | None = None
    ) -> str:
        run = self._current_run()
        if run is None:
            return super().save(name, content, max_length)
        return run.staging.save(name, content, max_length)

    def _save(self, name: str, content: Any) -> str:
        run = self._current_run()
        if run is None:
            return super()._save(name, content)  # type: ignore[misc,no-any-return]
        # Hashing writes here; the file must be readable for early uploads.
        return run.staging.save_processed(name, content)

    def delete(self, name: str) -> None:
        run = self._current_run()
        if run is None:
            super().delete(name)
        else:
            run.staging.delete(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        run = self._current_run()
        if run is None:
            return super().listdir(path)
        return run.staging.listdir(path)

    def size(self, name: str) -> int:
        run = self._current_run()
        if run is None:
            return super().size(name)
        return run.staging.size(name)

    def get_modified_time(self, name: str) -> datetime:
        run = self._current_run()
        if run is None:
            return super().get_modified_time(name)
        return run.get_modified_time(name)

    def get_accessed_time(self, name: str) -> datetime:
        run = self._current_run()
        if run is None:
            return super().get_accessed_time(name)
        return run.staging.get_accessed_time(name)

    def get_created_time(self, name: str) -> datetime:
        run = self._current_run()
        if run is None:
            return super().get_created_time(name)
        return run.staging.get_created_time(name)


def collectstatic_command_on_stack() -> CollectstaticCommand | None:
    """The collectstatic command calling the storage, or None at run time."""
    return collectstatic_caller_on_stack(depth=3)[0]


def collectstatic_caller_on_stack(
    depth: int = 2,
) -> tuple[CollectstaticCommand | None, FrameType | None]:
    """The collectstatic command calling the storage, and the outermost of
    its frames near the call (``collect``, which calls the storage for every
    file); ``(None, None)`` at run time. ``depth``: frames from here to the
    storage's method."""
    frame: FrameType | None = sys._getframe(depth)
    for _ in range(SEARCH_DEPTH):
        if frame is None:
            return None, None
        command = _command_of(frame)
        if command is not None:
            caller = frame
            while caller.f_back is not None and _command_of(caller.f_back) is command:
                caller = caller.f_back
            return command, caller
        frame = frame.f_back
    return None, None


def _command_of(frame: FrameType) -> CollectstaticCommand | None:
    if frame.f_code.co_name in CALLING_METHODS:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, CollectstaticCommand):
            return candidate
    return None
