#!/usr/bin/env python3
"""One command for each job, on a fresh machine with Python 3.10+.

    python3 dev.py test    lint, type checks and the test matrix (every Django x Python)
    python3 dev.py demo    the example project against a local S3
    python3 dev.py bench   the benchmark (arguments go to benchmarks.run)
    python3 dev.py nox ... any nox arguments, e.g. -s "tests(3.12-django6.1)" -- -k runtime

It creates ``.venv-dev`` with nox in it, then runs nox. Python interpreters
installed with pyenv are put on PATH so nox finds every version.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".venv-dev"
BIN = TOOLS / ("Scripts" if os.name == "nt" else "bin")
COMMANDS = {
    "test": [],
    "demo": ["-s", "demo"],
    "bench": ["-s", "bench", "--"],
    "nox": [],
}


def ensure_tools() -> None:
    if not (BIN / "nox").exists():
        venv.create(TOOLS, with_pip=True)
        subprocess.run(
            [BIN / "python", "-m", "pip", "install", "--quiet", "nox>=2024.10", "uv"],
            check=True,
        )


def environment() -> dict[str, str]:
    env = dict(os.environ)
    pyenv_versions = Path(env.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    interpreters = sorted(
        str(path / "bin") for path in pyenv_versions.glob("3.1[0-9]*")
    )
    env["PATH"] = os.pathsep.join([str(BIN), *interpreters, env.get("PATH", "")])
    # Never let uv fetch interpreters from the network: use the machine's.
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    return env


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    ensure_tools()
    # Interpreters come from the machine, never downloaded.
    command = [
        str(BIN / "nox"),
        "--download-python",
        "never",
        *COMMANDS[argv[0]],
        *argv[1:],
    ]
    return subprocess.run(command, cwd=ROOT, env=environment(), check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
