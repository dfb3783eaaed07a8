"""Copies into the staging directory, made only when something reads them.

``collectstatic`` saves every found file into the storage before
post-processing. When no source changed since the deployed release, nothing
reads those copies (hashing and uploads are skipped), so copying thousands of
files would be the bulk of a redeploy's work. A save of a file that lives on
disk is therefore recorded, and the copy is made on first use: when the file
is opened, listed or post-processed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any


def filesystem_source(content: Any) -> Path | None:
    """The on-disk path of a file object opened from a FileSystemStorage."""
    name = getattr(content, "name", None)
    if isinstance(name, str) and os.path.isabs(name) and os.path.isfile(name):
        return Path(name)
    return None


class DeferredCopies:
    """Pending ``name -> source path`` copies into a staging root."""

    def __init__(self) -> None:
        self.pending: dict[str, Path] = {}

    def __contains__(self, name: object) -> bool:
        return name in self.pending

    def record(self, name: str, source: Path) -> None:
        self.pending[name] = source

    def forget(self, name: str) -> None:
        self.pending.pop(name, None)

    def materialize(self, root: Path, name: str) -> None:
        source = self.pending.pop(name, None)
        if source is not None:
            _copy(source, root / name)

    def materialize_all(self, root: Path) -> None:
        pending, self.pending = self.pending, {}
        for name, source in pending.items():
            _copy(source, root / name)


def _copy(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
