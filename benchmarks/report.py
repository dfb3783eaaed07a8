"""RESULTS.md and the redeploy chart, built from a BenchmarkRun.

``python -m benchmarks.report RESULTS.json`` rebuilds both from saved
records without running anything again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.assets import SYNTHETIC_SETS
from benchmarks.contenders import CONTENDERS
from benchmarks.results import SCENARIOS, BenchmarkRun, RunRecord, Summary, summarize

REQUEST_KINDS_ORDER = ("LIST", "HEAD", "GET", "PUT", "POST", "DELETE")
BASELINE = "ours"


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


def _row(
    contender: str, summary: Summary | None, baseline: Summary | None, skipped: bool
) -> str:
    if skipped:
        return f"| {contender} | skipped | | | | | |"
    if summary is None:
        return f"| {contender} | not run | | | | | |"
    if summary.runs == 0:
        # The reason is listed under "Failed or invalid runs".
        status = summary.first_problem.split(":", 1)[0]
        return f"| {contender} | {status} | | | | | |"
    wall = f"{summary.wall_seconds:.2f}"
    if summary.failures:
        wall += f" ({summary.failures} bad run(s))"
    return (
        f"| {contender} | {wall} | {summary.cpu_seconds:.2f} | {_ratio(summary, baseline)} "
        f"| {_format_requests(summary.requests)} | {summary.bytes_uploaded / 1e6:.2f} "
        f"| {summary.max_rss_kb / 1024:.0f} |"
    )


def render_markdown(run: BenchmarkRun, chart_name: str | None) -> str:
    lines = ["# Benchmark results", ""]
    if run.note:
        lines += [f"> **{run.note}**", ""]
    lines += [
        f"- Date: {run.started}",
        *(f"- {key}: {value}" for key, value in run.machine.items()),
        f"- S3: moto on 127.0.0.1 with {run.delay_ms:g} ms added to every request",
        f"- Repeats: {run.repeats} (median reported; runs interleaved across contenders)",
        f"- Upload concurrency (ours, Collectfasta threads, aws CLI max_concurrent_requests): "
        f"{run.upload_concurrency}",
        "- Versions: "
        + ", ".join(f"{name} {version}" for name, version in run.versions.items()),
        "",
        "Contenders:",
        "",
        *(f"- **{name}**: {CONTENDERS[name].description}" for name in run.contenders),
        "",
        "Every run deploys from a fresh copy of the sources (new mtimes) into a fresh "
        "STATIC_ROOT, as on a fresh CI checkout; each contender has its own bucket. "
        "Wall and CPU are seconds of the deploy subprocess(es), CPU is user+system "
        "including children; requests are those the S3 server saw during the run; "
        "uploaded is the sum of PUT bodies; x ours is wall time relative to ours.",
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
                "| contender | wall s | CPU s | x ours | requests | MB uploaded | peak RSS MB |",
                "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
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
            "## Redeploy time vs file count (synthetic sets, scenario 2)",
            "",
            f"![redeploy time vs file count]({chart_name})",
            "",
        ]
    return "\n".join(lines)


def render_chart(run: BenchmarkRun, path: Path) -> bool:
    """Plot scenario 2 medians over the synthetic sets; False if there is nothing to plot."""
    synthetic = [name for name in run.asset_sets if name in SYNTHETIC_SETS]
    if not synthetic or 2 not in run.scenarios:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    plotted = False
    for contender in run.contenders:
        points: list[tuple[int, float]] = []
        for name in synthetic:
            summary = summarize(_records_for(run, name, 2, contender))
            if summary is not None and summary.runs:
                points.append((run.set_sizes[name]["files"], summary.wall_seconds))
        if points:
            points.sort()
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, marker="o", label=contender)
            plotted = True
    if not plotted:
        plt.close(figure)
        return False
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("static files in the project")
    axes.set_ylabel("redeploy wall time, s (median)")
    axes.set_title(
        f"Redeploy with nothing changed, fresh checkout ({run.delay_ms:g} ms per request)"
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
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
    markdown_path.write_text(render_markdown(run, chart_name))


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Rebuild RESULTS.md and the chart from saved records."
    )
    parser.add_argument(
        "records", type=Path, help="the .json file a benchmark run saved"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="markdown path (default: beside records)"
    )
    parser.add_argument("--chart", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or args.records.with_suffix(".md")
    chart = args.chart or out.with_name("redeploy-vs-files.png")
    write_report(BenchmarkRun.load(args.records), out, chart)


if __name__ == "__main__":
    main()
