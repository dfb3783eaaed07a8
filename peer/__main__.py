"""Fetch the peer suites, run them, report.

    python -m peer fetch  --work DIR [--django SPEC] [--storages SPEC]
    python -m peer run    --work DIR [--suite S] [--mode M ...] [-k PATTERN ...]
    python -m peer report --work DIR

``run`` starts one process per suite and mode (settings are configured once
per process), writes ``DIR/results/*.json`` and ``DIR/report.md``, and prints
the report. The nox session ``peer`` does all three.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .fetch import fetch_all, load_fetched

DJANGO_MODES = ("django", "stock-s3", "sync-subclass", "sync-local")
STORAGES_MODES = (
    "stock-static-url",
    "stock-no-static-url",
    "sync-static-url",
    "sync-no-static-url",
)
SUITES = {"django": DJANGO_MODES, "storages": STORAGES_MODES}


def run_suites(
    work: Path, suites: list[str], modes: list[str], patterns: list[str]
) -> int:
    fetched = load_fetched(work)
    results = work / "results"
    crashed = 0
    for suite in suites:
        for mode in SUITES[suite]:
            if modes and mode not in modes:
                continue
            print(f"peer: {suite} {fetched[suite].version} {mode}", flush=True)
            output = results / f"{suite}-{mode}.json"
            output.unlink(missing_ok=True)
            command = [
                sys.executable,
                "-m",
                f"peer.{suite}_suite",
                "--import-path",
                fetched[suite].import_path,
                "--version",
                fetched[suite].version,
                "--mode",
                mode,
                "--output",
                str(output),
            ]
            for pattern in patterns:
                command += ["-k", pattern]
            if subprocess.run(command, check=False).returncode != 0:
                print(f"peer: the {suite} {mode} run crashed", file=sys.stderr)
                crashed += 1
    return crashed


def write_report(work: Path) -> str:
    from .report import render
    from .results import SuiteRun

    fetched = load_fetched(work)
    order = [f"{suite}-{mode}" for suite, modes in SUITES.items() for mode in modes]
    paths = sorted(
        (work / "results").glob("*.json"),
        key=lambda path: order.index(path.stem) if path.stem in order else 99,
    )
    runs = [SuiteRun.read(path) for path in paths]
    versions = {suite.distribution: suite.version for suite in fetched.values()}
    text = render(runs, versions)
    (work / "report.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch")
    fetch.add_argument("--work", type=Path, required=True)
    fetch.add_argument("--django", default="~=6.1.0")
    fetch.add_argument("--storages", default="~=1.14.0")
    run = commands.add_parser("run")
    run.add_argument("--work", type=Path, required=True)
    run.add_argument("--suite", choices=SUITES, action="append", default=[])
    run.add_argument("--mode", action="append", default=[])
    run.add_argument("-k", action="append", default=[])
    report = commands.add_parser("report")
    report.add_argument("--work", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.command == "fetch":
        for suite in fetch_all(args.django, args.storages, args.work).values():
            print(f"peer: {suite.distribution} {suite.version} ({suite.sdist})")
        return 0
    crashed = 0
    if args.command == "run":
        crashed = run_suites(args.work, args.suite or list(SUITES), args.mode, args.k)
    print(write_report(args.work))
    print(f"peer: report written to {args.work / 'report.md'}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
