"""Markdown tables from benchmarks.profiling's JSON results.

``python -m benchmarks.profile_report RESULT.json [...]`` prints, for each
file, the tables its mode produced (cProfile: self time by module, top
functions; tracemalloc: heap by module and by package line; copy-loop: CPU
per file of collectstatic's loop). A ``.prof`` file beside a cProfile result
is read again, so the grouping can change without running anything.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.profiling import cprofile_tables


def _header(data: dict[str, Any]) -> list[str]:
    requests = ", ".join(f"{k} {v:,}" for k, v in sorted(data["requests"].items()))
    return [
        f"{data['set']} ({int(data.get('files', 0)):,} files), scenario {data.get('scenario', '-')}, "
        f"{data['contender']}; {data['date']}; S3: moto served by {data['s3_server']}, "
        f"{data['delay_ms']:g} ms delay; requests: {requests or 'none'} over "
        f"{data['connections']} connection(s); CPU of the command "
        f"{data['cpu_seconds']:.1f} s (with the profiler), wall {data['wall_seconds']:.1f} s.",
        "",
    ]


def cprofile_markdown(data: dict[str, Any], prof: Path | None, rows: int = 12) -> str:
    tables = cprofile_tables(prof, top=rows) if prof and prof.exists() else data
    total = tables["total_seconds"]
    lines = _header(data)
    lines += [
        "| module (self time; a C function's time counts for its caller) | s | % | calls |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in tables["groups"][:rows]:
        lines.append(
            f"| {row['group']} | {row['seconds']:.2f} | {100 * row['seconds'] / total:.0f} "
            f"| {row['calls']:,} |"
        )
    lines += [
        f"| total | {total:.2f} | 100 | |",
        "",
        "| function (most self time) | calls | self s | cumulative s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in tables["top_self"][:rows]:
        lines.append(
            f"| `{row['function']}` | {row['calls']:,} | {row['self']:.2f} "
            f"| {row['cumulative']:.2f} |"
        )
    lines += [
        "",
        "| package function (most cumulative time) | calls | self s | cumulative s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in tables["top_package_cumulative"][:rows]:
        lines.append(
            f"| `{row['function']}` | {row['calls']:,} | {row['self']:.2f} "
            f"| {row['cumulative']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def tracemalloc_markdown(data: dict[str, Any], rows: int = 12) -> str:
    total = data["total_bytes"]
    files = data.get("files") or 1
    lines = _header(data)
    lines += [
        f"Snapshot at {data['snapshot_bytes'] / 1e6:.0f} MB traced (the traced peak "
        f"was {data['traced_peak_bytes'] / 1e6:.0f} MB; {data['snapshots_taken']} "
        f"snapshots taken on the way up): {total / files:,.0f} bytes per file.",
        "",
        "| module of the allocating line | MB | % | bytes per file | blocks |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in data["groups"][:rows]:
        lines.append(
            f"| {row['group']} | {row['bytes'] / 1e6:.1f} | {100 * row['bytes'] / total:.0f} "
            f"| {row['bytes'] / files:,.0f} | {row['blocks']:,} |"
        )
    lines += [
        "",
        "| nearest package line on the stack | MB | bytes per file | blocks |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in data["owners"][:rows]:
        lines.append(
            f"| `{row['line']}` | {row['bytes'] / 1e6:.1f} | {row['bytes'] / files:,.0f} "
            f"| {row['blocks']:,} |"
        )
    return "\n".join(lines) + "\n"


def copy_loop_row(data: dict[str, Any]) -> str:
    files = data["files"] or 1
    return (
        f"| {data['contender']} | {data.get('scenario', '')} | {files:,.0f} "
        f"| {1e6 * data['copy_file_seconds'] / files:.0f} "
        f"| {1e6 * data['loop_seconds'] / files:.0f} "
        f"| {data.get('post_process_seconds', 0.0):.2f} | {data['cpu_seconds']:.2f} |"
    )


COPY_LOOP_HEADER = (
    "| storage | scenario | files | copy_file µs/file | loop µs/file "
    "| post_process CPU s | command CPU s |\n"
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
)


def main(argv: Sequence[str] | None = None) -> None:
    paths = [Path(arg) for arg in (argv if argv is not None else sys.argv[1:])]
    loop_rows: list[str] = []
    for path in paths:
        data = json.loads(path.read_text())
        if "loop_profile" in data:
            print(f"### copy loop profile: {path.name}\n")
            profile = {**data, **data["loop_profile"]}
            print(cprofile_markdown(profile, path.with_suffix(".prof")))
        elif "copy_file_seconds" in data:
            loop_rows.append(copy_loop_row(data))
        elif "traced_peak_bytes" in data:
            print(f"### {path.name}\n")
            print(tracemalloc_markdown(data))
        elif "top_self" in data:
            print(f"### {path.name}\n")
            print(cprofile_markdown(data, path.with_suffix(".prof")))
    if loop_rows:
        print(COPY_LOOP_HEADER)
        print("\n".join(loop_rows))


if __name__ == "__main__":
    main()
