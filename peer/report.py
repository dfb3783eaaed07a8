"""The summary of the peer runs: counts per suite, version and mode, then
every failing test with its one-line cause and whether the stock class
fails it too (a test stock fails as well is a difference inherent to S3;
one only ours fails is ours to fix)."""

from __future__ import annotations

from collections import Counter

from .results import OUTCOMES, SuiteRun, TestOutcome

SUITE_TITLES = {
    "django": "Django staticfiles_tests/test_storage.py",
    "storages": "django-storages tests/test_s3.py",
}
# The run each mode is compared with.
REFERENCE_MODE = {
    "sync-subclass": "stock-s3",
    "sync-local": "stock-s3",
    "stock-s3": "django",
    "sync-static-url": "stock-static-url",
    "sync-no-static-url": "stock-no-static-url",
}


PROBLEMS = ("failed", "errored")


def short_name(test_id: str) -> str:
    """``Class.method`` from a unittest id."""
    return ".".join(test_id.split(".")[-2:])


def counts_table(runs: list[SuiteRun]) -> list[str]:
    """Counts per run, and against the reference run: tests that fail or
    err only here, and tests that fail or err in both."""
    by_key = {(run.suite, run.version, run.mode): run for run in runs}
    lines = [
        "| suite | version | mode | "
        + " | ".join(OUTCOMES)
        + " | total | compared with | problems only here | problems in both |",
        "|---|---|---|" + "---:|" * (len(OUTCOMES) + 1) + "---|---:|---:|",
    ]
    for run in runs:
        counts = run.counts()
        reference = by_key.get(
            (run.suite, run.version, REFERENCE_MODE.get(run.mode, ""))
        )
        only_here = in_both = ""
        if reference is not None:
            theirs = {test.test: test.outcome for test in reference.tests}
            problems = [test for test in run.tests if test.outcome in PROBLEMS]
            in_both_count = sum(theirs.get(test.test) in PROBLEMS for test in problems)
            in_both = str(in_both_count)
            only_here = str(len(problems) - in_both_count)
        lines.append(
            f"| {run.suite} | {run.version} | {run.mode} | "
            + " | ".join(str(counts[outcome]) for outcome in OUTCOMES)
            + f" | {len(run.tests)} | {reference.mode if reference else ''}"
            + f" | {only_here} | {in_both} |"
        )
    return lines


def comparison(test: TestOutcome, reference: SuiteRun | None) -> str:
    """What the reference run did with the same test."""
    if reference is None:
        return ""
    theirs = {outcome.test: outcome for outcome in reference.tests}.get(test.test)
    return theirs.outcome if theirs is not None else "not run"


def problem_key(test: TestOutcome) -> tuple[tuple[str, str, str], ...]:
    """Tests that fail the same way (same kind, exception type and line of
    the test file) are listed together."""
    return tuple(
        dict.fromkeys(
            (
                problem.kind,
                problem.cause.split(":", 1)[0],
                problem.where or problem.cause,
            )
            for problem in test.problems
        )
    )


def problem_lines(run: SuiteRun, reference: SuiteRun | None) -> list[str]:
    groups: dict[tuple[tuple[str, str, str], ...], list[TestOutcome]] = {}
    for test in run.tests:
        if test.outcome in PROBLEMS:
            groups.setdefault(problem_key(test), []).append(test)
    lines = []
    for tests in groups.values():
        first = tests[0]
        compared = Counter(comparison(test, reference) for test in tests)
        versus = (
            f" ({reference.mode}: "
            + ", ".join(f"{count} {outcome}" for outcome, count in compared.items())
            + ")"
            if reference is not None
            else ""
        )
        if len(tests) == 1:
            lines.append(f"- `{short_name(first.test)}` **{first.outcome}**{versus}")
        else:
            lines.append(f"- **{len(tests)} tests {first.outcome}**{versus}")
        seen = set()
        for problem in first.problems:
            line = problem.cause + (f" [at {problem.where}]" if problem.where else "")
            if line not in seen:
                seen.add(line)
                subtest = " (subtest)" if problem.subtest else ""
                lines.append(f"  - {problem.kind}{subtest}: {line}")
        if len(tests) > 1:
            lines.append(
                "  - " + ", ".join(f"`{short_name(test.test)}`" for test in tests)
            )
    return lines


def render(runs: list[SuiteRun], versions: dict[str, str]) -> str:
    by_key = {(run.suite, run.version, run.mode): run for run in runs}
    lines = [
        "# Peer suites",
        "",
        "Tests from "
        + ", ".join(f"{name} {version}" for name, version in versions.items())
        + ".",
        "",
        *counts_table(runs),
        "",
    ]
    for run in runs:
        if run.mode == "django" and (run.counts()["failed"] or run.counts()["errored"]):
            lines += [
                "**Harness problem:** Django's own storages fail in the "
                "as-published run; the other results cannot be trusted.",
                "",
            ]
    for run in runs:
        reference_mode = REFERENCE_MODE.get(run.mode)
        reference = by_key.get((run.suite, run.version, reference_mode or ""))
        lines += [
            f"## {SUITE_TITLES[run.suite]} {run.version}, {run.mode}",
            "",
            run.description + ".",
            "",
        ]
        if run.substitutions:
            lines.append("Substituted:")
            lines += [
                f"- `{name}` → `{new}`" for name, new in run.substitutions.items()
            ]
            lines.append("")
        problems = problem_lines(run, reference)
        lines += problems or ["No failures."]
        lines.append("")
        if reference is not None:
            theirs = {test.test: test.outcome for test in reference.tests}
            better = [
                f"`{short_name(test.test)}`"
                for test in run.tests
                if test.outcome == "passed" and theirs.get(test.test) in PROBLEMS
            ]
            if better:
                lines += [
                    f"Passed here, not in {reference.mode}: {', '.join(better)}.",
                    "",
                ]
    return "\n".join(lines)
