"""RESULTS.md and the scaling chart, built from a BenchmarkRun.

``python -m benchmarks.report RESULTS.json`` rebuilds both from saved
records without running anything again.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from benchmarks.assets import SYNTHETIC_SETS
from benchmarks.contenders import CONTENDERS
from benchmarks.results import SCENARIOS, BenchmarkRun, RunRecord, Summary, summarize

REQUEST_KINDS_ORDER = ("LIST", "HEAD", "GET", "PUT", "POST", "DELETE")
BASELINE = "ours"
# Everything after this line in an existing results file is kept when the
# harness rewrites the file.
KEPT_MARKER = "<!-- Not generated: kept when the harness rewrites this file. -->"
# The chart's default file name, beside RESULTS.md.
CHART_NAME = "scaling.png"
# The scenarios the scaling chart plots, each with its line style and
# marker (the marker tells them apart where a set has a single point).
CHART_SCENARIOS: dict[int, tuple[str, Literal["-", "--", ":"], str]] = {
    1: ("first deploy", "-", "o"),
    2: ("unchanged redeploy", "--", "s"),
    3: ("one file changed", ":", "^"),
}
# What each panel plots: (title, y label, value of a summary, log scale).
CHART_PANELS: tuple[tuple[str, str, Callable[[Summary], float], bool], ...] = (
    ("Wall time", "wall s (median)", lambda summary: summary.wall_seconds, True),
    ("Client CPU", "CPU s (median)", lambda summary: summary.cpu_seconds, True),
    (
        "Peak RSS",
        "peak RSS MB (median)",
        lambda summary: summary.max_rss_kb / 1024,
        False,
    ),
)


def _records_for(
    run: BenchmarkRun, asset_set: str, scenario: int, contender: str
) -> list[RunRecord]:
    return [
        record
        for record in run.records
        if record.asset_set == asset_set
        and record.scenario == scenario
        and record.contender == contender
    ]


def _format_requests(requests: dict[str, float]) -> str:
    kinds = [k for k in REQUEST_KINDS_ORDER if requests.get(k)] + sorted(
        k for k in requests if k not in REQUEST_KINDS_ORDER and requests[k]
    )
    if not kinds:
        return "none"
    return ", ".join(f"{kind} {requests[kind]:,.0f}" for kind in kinds)


def _ratio(summary: Summary, baseline: Summary | None) -> str:
    if baseline is None or baseline.runs == 0 or baseline.wall_seconds <= 0:
        return "n/a"
    return f"{summary.wall_seconds / baseline.wall_seconds:.2f}x"


TABLE_HEADER = (
    "| contender | wall s | CPU s | CPU ms/object | x ours | requests "
    "| MB uploaded | peak RSS MB |"
)
TABLE_RULE = "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |"
_EMPTY_CELLS = " |" * (TABLE_RULE.count("|") - 3)


def _per_object(summary: Summary) -> str:
    if summary.cpu_ms_per_object is None:
        return ""
    return f"{summary.cpu_ms_per_object:.2f}"


def _row(
    contender: str, summary: Summary | None, baseline: Summary | None, skipped: bool
) -> str:
    if skipped:
        return f"| {contender} | skipped |{_EMPTY_CELLS}"
    if summary is None:
        return f"| {contender} | not run |{_EMPTY_CELLS}"
    if summary.runs == 0:
        # The reason is listed under "Failed or invalid runs".
        status = summary.first_problem.split(":", 1)[0]
        return f"| {contender} | {status} |{_EMPTY_CELLS}"
    wall = f"{summary.wall_seconds:.2f}"
    if summary.failures:
        wall += f" ({summary.failures} bad run(s))"
    return (
        f"| {contender} | {wall} | {summary.cpu_seconds:.2f} | {_per_object(summary)} "
        f"| {_ratio(summary, baseline)} "
        f"| {_format_requests(summary.requests)}{_connections(summary)} "
        f"| {summary.bytes_uploaded / 1e6:.2f} "
        f"| {summary.max_rss_kb / 1024:.0f} |"
    )


def _server_line(server: str) -> str:
    if server == "waitress":
        return "waitress (connections kept alive, as S3 keeps them)"
    return f"{server} (a new connection for every request)"


def _connections(summary: Summary) -> str:
    if summary.connections is None:
        return ""
    return f" over {summary.connections:,.0f} connections"


def _skipped_line(run: BenchmarkRun) -> list[str]:
    wanted = [
        (contender, asset_set)
        for contender, asset_set in run.skipped
        if contender in run.contenders and asset_set in run.asset_sets
    ]
    if not wanted:
        return []
    pairs = ", ".join(f"{contender} on {asset_set}" for contender, asset_set in wanted)
    return [
        f"- Skipped (`--skip`; the default skips the pairs where one deploy would "
        f"take more than 20 minutes): {pairs}"
    ]


def render_markdown(run: BenchmarkRun, chart_name: str | None) -> str:
    lines = ["# Benchmark results", ""]
    if run.note:
        lines += [f"> **{run.note}**", ""]
    lines += [
        f"- Date: {run.started}",
        *(f"- {key}: {value}" for key, value in run.machine.items()),
        f"- S3: moto on 127.0.0.1, served by {_server_line(run.s3_server)}, with "
        f"{run.delay_ms:g} ms added to every request",
        f"- Repeats: {run.repeats} (median reported; runs interleaved across contenders)",
        f"- Upload concurrency (ours, Collectfasta threads, aws CLI max_concurrent_requests): "
        f"{run.upload_concurrency}",
        "- Versions: "
        + ", ".join(f"{name} {version}" for name, version in run.versions.items()),
        *_skipped_line(run),
        "",
        "Contenders:",
        "",
        *(f"- **{name}**: {CONTENDERS[name].description}" for name in run.contenders),
        "",
        "Every run deploys from a fresh copy of the sources (new mtimes) into a fresh "
        "STATIC_ROOT, as on a fresh CI checkout; each contender has its own bucket. "
        "Wall and CPU are seconds of the deploy subprocess(es), CPU is user+system "
        "including children; requests are those the S3 server saw during the run, "
        "over the TCP connections it accepted; "
        "uploaded is the sum of PUT bodies; CPU ms/object is CPU divided by the PUTs "
        "the server saw (blank where nothing was uploaded); x ours is wall time "
        "relative to ours.",
        "",
    ]
    for asset_set in run.asset_sets:
        size = run.set_sizes.get(asset_set, {})
        heading = f"## {asset_set}"
        if size:
            heading += f" ({size['files']:,} files, {size['bytes'] / 1e6:.1f} MB)"
        lines += [heading, ""]
        for scenario_number in run.scenarios:
            scenario = SCENARIOS[scenario_number]
            lines += [
                f"### Scenario {scenario.number}: {scenario.title}",
                "",
                TABLE_HEADER,
                TABLE_RULE,
            ]
            baseline = summarize(
                _records_for(run, asset_set, scenario_number, BASELINE)
            )
            for contender in run.contenders:
                summary = summarize(
                    _records_for(run, asset_set, scenario_number, contender)
                )
                lines.append(
                    _row(
                        contender,
                        summary,
                        baseline,
                        run.is_skipped(contender, asset_set),
                    )
                )
            lines.append("")
    problems = [r for r in run.records if r.status != "ok"]
    if problems:
        lines += ["## Failed or invalid runs", ""]
        for record in problems:
            detail = " ".join(record.detail.split())[:400]
            lines.append(
                f"- {record.asset_set} / scenario {record.scenario} / {record.contender} / "
                f"repeat {record.repeat + 1}: {record.status}: {detail}"
            )
        lines.append("")
    if chart_name:
        lines += [
            "## Scaling (synthetic sets, scenarios 1-3)",
            "",
            f"![wall time, CPU and peak RSS against file count]({chart_name})",
            "",
        ]
    return "\n".join(lines)


def _chart_series(
    run: BenchmarkRun, synthetic: list[str], scenario: int, contender: str
) -> list[tuple[int, Summary]]:
    """(files, summary) per synthetic set with a good run, by file count."""
    points: list[tuple[int, Summary]] = []
    for name in synthetic:
        summary = summarize(_records_for(run, name, scenario, contender))
        if summary is not None and summary.runs and name in run.set_sizes:
            points.append((run.set_sizes[name]["files"], summary))
    return sorted(points, key=lambda point: point[0])


def render_chart(run: BenchmarkRun, path: Path) -> bool:
    """Wall time, CPU and peak RSS against file count over the synthetic sets,
    one line per contender and scenario 1-3; False if there is nothing to plot."""
    synthetic = [name for name in run.asset_sets if name in SYNTHETIC_SETS]
    scenarios = [number for number in CHART_SCENARIOS if number in run.scenarios]
    if not synthetic or not scenarios:
        return False
    series = {
        (contender, scenario): _chart_series(run, synthetic, scenario, contender)
        for contender in run.contenders
        for scenario in scenarios
    }
    if not any(series.values()):
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    figure, panels = plt.subplots(1, len(CHART_PANELS), figsize=(16, 5.5), dpi=110)
    # Ticks at the sizes that were run, labelled in files.
    sizes = sorted({files for points in series.values() for files, _ in points})
    colors = {
        contender: f"C{index % 10}" for index, contender in enumerate(run.contenders)
    }
    for axes, (title, label, value, log_y) in zip(panels, CHART_PANELS, strict=True):
        for (contender, scenario), points in series.items():
            if not points:
                continue
            axes.plot(
                [files for files, _ in points],
                [value(summary) for _, summary in points],
                color=colors[contender],
                linestyle=CHART_SCENARIOS[scenario][1],
                marker=CHART_SCENARIOS[scenario][2],
                markersize=5,
            )
        axes.set_xscale("log")
        axes.set_xticks(sizes, [f"{files:,}" for files in sizes])
        axes.xaxis.set_minor_formatter(NullFormatter())
        if log_y:
            axes.set_yscale("log")
            axes.yaxis.set_major_formatter(ScalarFormatter())
        else:
            axes.set_ylim(bottom=0)
        axes.set_xlabel("static files in the project")
        axes.set_ylabel(label)
        axes.set_title(title)
        axes.grid(True, which="both", alpha=0.3)
    plotted = {contender for (contender, _), points in series.items() if points}
    handles = [
        *(
            Line2D([], [], color=colors[contender], label=contender)
            for contender in run.contenders
            if contender in plotted
        ),
        *(
            Line2D(
                [],
                [],
                color="black",
                linestyle=CHART_SCENARIOS[number][1],
                marker=CHART_SCENARIOS[number][2],
                label=f"scenario {number}: {CHART_SCENARIOS[number][0]}",
            )
            for number in scenarios
        ),
    ]
    figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6))
    figure.suptitle(
        f"Deploys against project size, fresh checkout ({run.delay_ms:g} ms per "
        "request, median of repeats)"
    )
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    figure.savefig(path)
    plt.close(figure)
    return True


def write_report(run: BenchmarkRun, markdown_path: Path, chart_path: Path) -> None:
    chart_name = None
    if render_chart(run, chart_path):
        chart_name = (
            chart_path.name
            if chart_path.parent.resolve() == markdown_path.parent.resolve()
            else str(chart_path)
        )
    text = render_markdown(run, chart_name)
    if markdown_path.exists():
        # Sections written from other measurements (the profiles in
        # RESULTS-scaling.md) stay when the harness rewrites the file.
        previous = markdown_path.read_text()
        if KEPT_MARKER in previous:
            text = text.rstrip("\n") + "\n\n" + previous[previous.index(KEPT_MARKER) :]
    markdown_path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Rebuild RESULTS.md and the chart from saved records."
    )
    parser.add_argument(
        "records",
        type=Path,
        nargs="+",
        help="the .json file a benchmark run saved; with several (runs of "
        "different sets, say), the report and chart take the records of all, "
        "and the other details of the first",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="markdown path (default: beside records)"
    )
    parser.add_argument("--chart", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or args.records[0].with_suffix(".md")
    chart = args.chart or out.with_name(CHART_NAME)
    write_report(merged([BenchmarkRun.load(path) for path in args.records]), out, chart)


def merged(runs: list[BenchmarkRun]) -> BenchmarkRun:
    """The first run with the sets, sizes and records of the others added."""
    first = runs[0]
    for run in runs[1:]:
        first.asset_sets += [
            name for name in run.asset_sets if name not in first.asset_sets
        ]
        first.contenders += [
            name for name in run.contenders if name not in first.contenders
        ]
        first.set_sizes.update(run.set_sizes)
        first.records += run.records
    return first


if __name__ == "__main__":
    main()
