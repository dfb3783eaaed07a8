"""The README's chart: each contender's wall time on the three scenarios a
user feels (first deploy, unchanged redeploy, one file changed), on one asset
set, from saved benchmark results.

    python -m benchmarks.contenders_chart            # docs/_static/contenders.png
    python -m benchmarks.contenders_chart --set large --out /tmp/large.png

Each bar is the median of a results file's repeats. A contender's numbers are
taken from the first results file below that measured it on that set and
scenario, and the chart's footnote names the file and its date, so numbers
from different runs are never passed off as one run. A scenario that no file
measured for a contender is marked "not measured".
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from benchmarks.results import BenchmarkRun, Summary, summarize

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "docs" / "_static" / "contenders.png"
# Searched in this order: the run with every scenario and 3 repeats first.
RESULTS_FILES = (
    "RESULTS.json",
    "RESULTS-first-deploy.json",
    "RESULTS-stock.json",
)
SCENARIOS = {
    1: "first deploy\n(empty bucket)",
    2: "redeploy,\nnothing changed",
    3: "redeploy,\none CSS file changed",
}


@dataclass(frozen=True)
class Bar:
    contender: str
    label: str
    color: str
    reference: bool = False


BARS = (
    Bar("ours-tmp", "django-s3-manifest-storage", "#2a7ab0"),
    Bar("stock", "django-storages S3ManifestStaticStorage", "#c0504d"),
    Bar("collectfasta", "Collectfasta (manifest strategy)", "#e1a03a"),
    Bar("local+sync", "collectstatic, then aws s3 sync", "#7f7f7f"),
    Bar("local", "collectstatic alone, no upload (reference)", "#bbbbbb", True),
)


@dataclass(frozen=True)
class Measured:
    summary: Summary
    source: str
    run: BenchmarkRun


def find(
    runs: dict[str, BenchmarkRun], asset_set: str, scenario: int, contender: str
) -> Measured | None:
    for name, run in runs.items():
        summary = summarize(
            [
                record
                for record in run.records
                if record.asset_set == asset_set
                and record.scenario == scenario
                and record.contender == contender
            ]
        )
        if summary is not None and summary.runs:
            return Measured(summary, name, run)
    return None


def render(runs: dict[str, BenchmarkRun], asset_set: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = {
        (bar.contender, scenario): find(runs, asset_set, scenario, bar.contender)
        for bar in BARS
        for scenario in SCENARIOS
    }
    bars = [
        bar
        for bar in BARS
        if any(measured[bar.contender, scenario] for scenario in SCENARIOS)
    ]
    values = [m.summary.wall_seconds for m in measured.values() if m is not None]
    if not values:
        raise SystemExit(f"No results for the {asset_set!r} set.")
    bottom = min(values) / 2
    figure, axes = plt.subplots(figsize=(10, 5.2), dpi=110)
    width = 0.8 / len(bars)
    for index, bar in enumerate(bars):
        for group, scenario in enumerate(SCENARIOS):
            x = group + (index - (len(bars) - 1) / 2) * width
            found = measured[bar.contender, scenario]
            if found is None:
                axes.text(
                    x,
                    bottom * 1.15,
                    "not measured",
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="#888888",
                )
                continue
            seconds = found.summary.wall_seconds
            axes.bar(
                x,
                seconds,
                width,
                color=bar.color,
                hatch="//" if bar.reference else None,
                edgecolor="white" if not bar.reference else "#888888",
                label=bar.label,
            )
            axes.text(
                x,
                seconds * 1.08,
                f"{seconds:,.1f}" if seconds < 100 else f"{seconds:,.0f}",
                ha="center",
                va="bottom",
                fontsize=8,
            )
    axes.set_yscale("log")
    axes.set_ylim(bottom=bottom, top=max(values) * 3)
    axes.set_xticks(range(len(SCENARIOS)), list(SCENARIOS.values()))
    axes.set_ylabel("wall time, seconds (log scale)")
    axes.grid(True, axis="y", which="major", alpha=0.3)
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    axes.legend(unique.values(), unique.keys(), loc="upper right", fontsize=8)
    files = next(
        run.set_sizes[asset_set]["files"]
        for run in runs.values()
        if asset_set in run.set_sizes
    )
    first = next(iter(runs.values()))
    axes.set_title(
        f"Deploying the {asset_set!r} set ({files:,} static files) to S3, "
        f"{first.delay_ms:g} ms per request"
    )
    sources: dict[str, list[str]] = {}
    for bar in bars:
        for scenario in SCENARIOS:
            found = measured[bar.contender, scenario]
            if found is not None:
                entry = (
                    f"benchmarks/{found.source} ({found.run.started}, "
                    f"median of {found.run.repeats})"
                )
                contenders = sources.setdefault(entry, [])
                if bar.contender not in contenders:
                    contenders.append(bar.contender)
    footnote = "; ".join(
        f"{', '.join(contenders)}: {entry}" for entry, contenders in sources.items()
    )
    figure.text(0.01, 0.01, footnote, fontsize=7, color="#555555", wrap=True)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="medium", help="asset set (default medium)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    runs = {
        name: BenchmarkRun.load(HERE / name)
        for name in RESULTS_FILES
        if (HERE / name).exists()
    }
    render(runs, args.set, args.out)
    print(args.out)


if __name__ == "__main__":
    main()
