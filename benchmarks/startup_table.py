"""The start-up-aside comparison of a run with the start-up contenders.

    python -m benchmarks.startup_table benchmarks/RESULTS-static-root-large.json

Prints, for each asset set and scenario, the medians of ``ours-static-root``,
``ours-tmp`` and ``local``, the start-up of each side (``startup-ours``,
``startup-local``: Django, and building the storage, no request), and the
ratio of ours to local with start-up set aside on both sides, as a Markdown
table (wall seconds, then CPU seconds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.results import SCENARIOS, BenchmarkRun, Summary, summarize

OURS = "ours-static-root"
COLUMNS = (OURS, "ours-tmp", "local", "startup-ours", "startup-local")


def summaries(run: BenchmarkRun, asset_set: str, scenario: int) -> dict[str, Summary]:
    found = {}
    for contender in COLUMNS:
        records = [
            record
            for record in run.records
            if (record.asset_set, record.scenario, record.contender)
            == (asset_set, scenario, contender)
        ]
        summary = summarize(records)
        if summary is not None and summary.runs:
            found[contender] = summary
    return found


def table(run: BenchmarkRun) -> str:
    lines = [
        "| set | scenario | ours, STATIC_ROOT set | ours, no STATIC_ROOT "
        "| local collectstatic | start-up ours | start-up local "
        "| ours - start-up | local - start-up | ratio | runs |",
        "| --- | --- |" + " ---: |" * 9,
    ]
    for asset_set in run.asset_sets:
        for scenario in run.scenarios:
            found = summaries(run, asset_set, scenario)
            if not all(name in found for name in (OURS, "local", "startup-ours")):
                continue
            for measure in ("wall_seconds", "cpu_seconds"):
                value = {name: getattr(s, measure) for name, s in found.items()}
                ours = value[OURS] - value["startup-ours"]
                local = value["local"] - value.get("startup-local", 0.0)
                cells = [
                    f"{value[name]:.2f}" if name in value else "" for name in COLUMNS
                ]
                unit = "wall s" if measure == "wall_seconds" else "CPU s"
                title = SCENARIOS[scenario].title
                lines.append(
                    f"| {asset_set} | {scenario}: {title} ({unit}) | "
                    + " | ".join(cells)
                    + f" | {ours:.2f} | {local:.2f} | {ours / local:.2f}x"
                    + f" | {found[OURS].runs} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a RESULTS-*.json file")
    arguments = parser.parse_args()
    print(table(BenchmarkRun.load(arguments.results)))


if __name__ == "__main__":
    main()
