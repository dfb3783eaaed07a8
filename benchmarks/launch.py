"""Run a command and write its resource usage as JSON: the harness's launcher.

Usage: ``python -m benchmarks.launch REPORT.json COMMAND [ARG...]``

Why a separate launcher: Linux carries a process's peak RSS across exec, and a
child forked straight from the harness starts with the harness's memory
accounted (moto keeps every uploaded object in it). This small process
forks the real command instead, so the peak RSS reported is the command's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> None:
    report_path, argv = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    process = subprocess.Popen(argv)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    exit_code = os.waitstatus_to_exitcode(status)
    process.returncode = exit_code
    with open(report_path, "w") as report:
        json.dump(
            {
                "wall_seconds": wall,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "max_rss_kb": usage.ru_maxrss,
                "exit_code": exit_code,
            },
            report,
        )
    sys.exit(exit_code if exit_code >= 0 else 128 - exit_code)


if __name__ == "__main__":
    main()
