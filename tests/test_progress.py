"""Upload progress: a line at most every ``LINE_INTERVAL`` seconds in logs,
a tqdm bar on a terminal when tqdm is installed."""

from __future__ import annotations

import io
import re
import sys

import pytest

from django_s3_manifest_storage import console as progress

from .conftest import Deploy, S3Bucket

LINE = re.compile(r"Uploading: (\d+)/(\d+) files, [\d.]+/[\d.]+ MB, [\d.]+ MB/s")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def progress_counts(output: str) -> list[tuple[int, int]]:
    return [
        (int(match[1]), int(match[2]))
        for line in output.splitlines()
        if (match := LINE.fullmatch(line))
    ]


def assert_counts_every_upload_once(counts: list[tuple[int, int]], puts: int) -> None:
    total = counts[-1][1]
    assert counts == [(done, total) for done in range(1, total + 1)]
    # Every object S3 received, those sent while hashing went on included.
    assert total == puts


def test_log_lines_count_every_upload(
    s3: S3Bucket, deploy: Deploy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "LINE_INTERVAL", 0.0)  # a line per upload
    output = io.StringIO()

    deploy(command_options={"verbosity": 1, "stdout": output})

    assert_counts_every_upload_once(
        progress_counts(output.getvalue()), s3.counts()["PUT"]
    )


def test_a_terminal_gets_a_bar(
    s3: S3Bucket, deploy: Deploy, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tqdm")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.0)  # show it at once
    output = io.StringIO()

    deploy(command_options={"verbosity": 1, "stdout": output})

    bar = terminal.getvalue()
    assert bar.startswith("\rUploading:")
    # tqdm redraws at most every 0.1 s: a short deploy may show only the start.
    totals = {int(total) for _done, total in re.findall(r"(\d+)/(\d+)", bar)}
    assert len(totals) == 1
    assert totals.pop() == s3.counts()["PUT"]
    assert progress_counts(output.getvalue()) == []  # the bar, not lines as well


def test_a_terminal_without_tqdm_gets_lines(
    s3: S3Bucket, deploy: Deploy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails
    monkeypatch.setattr(sys, "stderr", Terminal())
    monkeypatch.setattr(progress, "LINE_INTERVAL", 0.0)
    output = io.StringIO()

    deploy(command_options={"verbosity": 1, "stdout": output})

    assert_counts_every_upload_once(
        progress_counts(output.getvalue()), s3.counts()["PUT"]
    )


def test_verbosity_zero_shows_no_progress_even_on_a_terminal(
    s3: S3Bucket, deploy: Deploy, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.0)
    monkeypatch.setattr(progress, "LINE_INTERVAL", 0.0)
    output = io.StringIO()

    deploy(command_options={"verbosity": 0, "stdout": output})

    assert s3.counts()["PUT"] > 0
    assert terminal.getvalue() == ""
    assert output.getvalue() == ""
