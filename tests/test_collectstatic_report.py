"""collectstatic's own summary line, as the stock class makes it say.

collectstatic asks the storage whether each file exists and, when it does,
how old it is: a file whose source is not newer is skipped and counted as
unmodified. The stock class asks S3 (a HEAD per file); this package answers
from the deployed manifest, read once.
"""

from __future__ import annotations

import io
import os
import re
import time
from typing import Any

from django.contrib.staticfiles.management.commands.collectstatic import (
    Command as CollectstaticCommand,
)
from django.core.management import call_command
from django.test import override_settings

from .conftest import BACKEND, SOURCE_FILES, S3Bucket, StaticSource

STOCK = "storages.backends.s3.S3ManifestStaticStorage"


def reset_sources(source: StaticSource, age: float) -> None:
    """The small project, every file last modified ``age`` seconds ago."""
    then = time.time() - age
    for name, content in SOURCE_FILES.items():
        source.write(name, content)
        os.utime(source.root / name, (then, then))


def summary_line(
    source: StaticSource, backend: str, options: dict[str, Any], **command: Any
) -> str:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": backend, "OPTIONS": options},
    }
    output = io.StringIO()
    with override_settings(STATICFILES_DIRS=[str(source.root)], STORAGES=storages):
        call_command(
            "collectstatic", interactive=False, verbosity=1, stdout=output, **command
        )
    lines = [line for line in output.getvalue().splitlines() if "copied" in line]
    assert len(lines) == 1, output.getvalue()
    return lines[0]


def three_runs(
    s3: S3Bucket, source: StaticSource, backend: str, options: dict[str, Any]
) -> tuple[list[str], dict[str, int]]:
    """A deploy, a rerun with nothing changed and one with one file edited
    after the deploy; the summary lines, and the requests of the rerun."""
    reset_sources(source, age=3600)
    lines = [summary_line(source, backend, options)]
    s3.clear_log()
    lines.append(summary_line(source, backend, options))
    rerun = dict(s3.counts())
    source.write("css/plain.css", b"p { margin: 1px; }\n")
    later = time.time() + 60
    os.utime(source.root / "css/plain.css", (later, later))
    lines.append(summary_line(source, backend, options))
    return lines, rerun


def deployed_an_hour_after_its_sources(
    s3: S3Bucket, source: StaticSource
) -> dict[str, Any]:
    """Deploy the small project, its sources last modified an hour before;
    the storage options used."""
    options = s3.options()
    reset_sources(source, age=3600)
    summary_line(source, BACKEND, options)
    return options


def test_unmodified_files_are_counted_as_with_the_stock_class(
    s3: S3Bucket, static_source: StaticSource
) -> None:
    ours, our_rerun = three_runs(
        s3, static_source, BACKEND, s3.options(location="ours")
    )
    stock, stock_rerun = three_runs(
        s3, static_source, STOCK, s3.stock_options(location="stock")
    )

    assert ours == stock
    files = len(SOURCE_FILES)
    assert re.match(rf"\s*{files} static files copied, {files} post-processed", ours[0])
    assert re.match(rf"\s*0 static files copied, {files} unmodified", ours[1])
    assert re.match(rf"\s*1 static file copied, {files - 1} unmodified", ours[2])
    # The stock class asked S3 about each file; this package read the
    # deployed manifest and uploaded nothing.
    assert stock_rerun.get("HEAD", 0) >= files
    assert "HEAD" not in our_rerun
    assert "PUT" not in our_rerun
    assert "plain.css" in str(s3.objects())


def test_a_source_newer_than_the_release_is_copied_again(
    s3: S3Bucket, static_source: StaticSource
) -> None:
    """A fresh checkout: every source newer than the deployed release."""
    options = deployed_an_hour_after_its_sources(s3, static_source)
    static_source.touch_all()

    line = summary_line(static_source, BACKEND, options)

    # Post-processed: what hashing rewrites (CSS, JS); the others' hashed
    # files are on S3 already, as the stock class would find them.
    files = len(SOURCE_FILES)
    rewritten = sum(name.endswith((".css", ".js")) for name in SOURCE_FILES)
    assert re.match(
        rf"\s*{files} static files copied, {rewritten} post-processed", line
    )


def test_a_dry_run_counts_what_a_run_would(
    s3: S3Bucket, static_source: StaticSource
) -> None:
    options = deployed_an_hour_after_its_sources(s3, static_source)
    s3.clear_log()

    line = summary_line(static_source, BACKEND, options, dry_run=True)

    assert re.match(rf"\s*0 static files copied, {len(SOURCE_FILES)} unmodified", line)
    assert "PUT" not in s3.counts()


def test_collectstatic_treats_the_storage_as_remote_as_with_the_stock_class(
    s3: S3Bucket, static_source: StaticSource
) -> None:
    """collectstatic asks ``path("")`` to tell a local storage, then checks a
    path and a symlink per file on one; the stock class refuses the question,
    and so does a run before post-processing."""
    options = deployed_an_hour_after_its_sources(s3, static_source)
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": BACKEND, "OPTIONS": options},
    }
    command = CollectstaticCommand()
    with override_settings(
        STATICFILES_DIRS=[str(static_source.root)], STORAGES=storages
    ):
        call_command(command, interactive=False, verbosity=0)

    # Cached by collectstatic while the run asked about unmodified files.
    assert command.__dict__["local"] is False
