"""What collectstatic's own bookkeeping costs per file, whatever the storage.

``Command.copy_file`` starts with ``if prefixed_path in self.copied_files``,
and ``copied_files`` is a list: each file is compared with every file copied
before it, so the loop's cost per file grows with the collection. This
replays exactly that (the membership test, then the append) on a real
``Command`` for collections of the given sizes, names shaped like the
synthetic sets'::

    python -m benchmarks.copied_files 10125 50125 100125

It prints the CPU per file of that bookkeeping alone; every contender pays
it (a local collectstatic, the stock class, this package), since it is
collectstatic's, not the storage's.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from django.contrib.staticfiles.management.commands.collectstatic import Command


def bookkeeping_seconds(files: int) -> float:
    """CPU seconds of collectstatic's ``copied_files`` test and append for
    ``files`` distinct names."""
    command = Command()  # its copied_files starts as an empty list
    # Built as collectstatic builds them: a new string per found file.
    names = [f"synthetic/d{index % 500}/file{index}.png" for index in range(files)]
    started = time.process_time()
    for name in names:
        if name in command.copied_files:
            continue
        command.copied_files.append(name)
    return time.process_time() - started


def main(argv: Sequence[str]) -> None:
    print("| files | copied_files bookkeeping, CPU s | µs per file |")
    print("| ---: | ---: | ---: |")
    for files in (int(value) for value in argv or ("10125", "50125", "100125")):
        seconds = bookkeeping_seconds(files)
        print(f"| {files:,} | {seconds:.2f} | {seconds / files * 1e6:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
