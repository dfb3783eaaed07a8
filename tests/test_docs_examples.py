"""Every example in the README and docs/ runs, so none can drift from the code.

Sybil finds the code blocks; each document's examples run in order, in one
namespace, against a ``DocsSite`` (tests/docs_site.py):

- a Python block runs; when it defines ``STORAGES``, the storage is built
  from it against the bundled S3 server and deploys the suite's small
  project; when it defines a subclass of the storage, that class deploys;
  when it defines ``INSTALLED_APPS``, each app it names must import;
- invisible blocks (``<!-- invisible-code-block: python ... -->``) set up a
  state or check what an example claims, e.g. the headers a subclass sets,
  read back from S3 with HEAD;
- in a console block, each ``$ python manage.py ...`` line runs in the
  settings of the last settings example and must succeed; the output shown
  under it must match the real output line for line, ids, times, counts and
  bucket URLs aside. Other console lines (pip, dev.py) are not run.

Names the examples take from a settings file are given: ``BASE_DIR``,
``MIDDLEWARE`` and the environment variable ``STATIC_S3_BUCKET``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from sybil import Example, Sybil
from sybil.parsers.myst import CodeBlockParser

from django_s3_manifest_storage import ManifestSyncS3Storage

from .conftest import S3Bucket, StaticSource
from .docs_site import DocsSite, shape

ROOT = Path(__file__).resolve().parent.parent
MANAGE = "$ python manage.py "


def evaluate_python(example: Example) -> None:
    namespace = example.namespace
    site: DocsSite = namespace["site"]
    before = dict(namespace)
    # Line numbers in tracebacks are the document's.
    source = "\n" * example.line + example.parsed
    exec(compile(source, example.path, "exec"), namespace)
    storages = namespace.get("STORAGES")
    if storages is not None and storages is not before.get("STORAGES"):
        site.deploy(storages)
    for name, value in namespace.items():
        if (
            isinstance(value, type)
            and issubclass(value, ManifestSyncS3Storage)
            and value is not ManifestSyncS3Storage
            and before.get(name) is not value
        ):
            site.deploy(value)
    apps = namespace.get("INSTALLED_APPS")
    if apps is not None and apps is not before.get("INSTALLED_APPS"):
        for app in apps:
            if isinstance(app, str):
                importlib.import_module(app)


def evaluate_console(example: Example) -> None:
    site: DocsSite = example.namespace["site"]
    command: str | None = None
    expected: list[str] = []

    def run() -> None:
        if command is None:
            return
        output = site.manage(command)
        if expected:
            actual = [shape(line) for line in output.splitlines() if line.strip()]
            assert actual == [shape(line) for line in expected], output

    for line in example.parsed.splitlines():
        if line.startswith("$ "):
            run()
            command = line[len(MANAGE) :] if line.startswith(MANAGE) else None
            expected = []
        elif command is not None and line.strip():
            expected.append(line)
    run()


SYBIL = Sybil(
    parsers=[
        CodeBlockParser(language="python", evaluator=evaluate_python),
        CodeBlockParser(language="console", evaluator=evaluate_console),
    ],
)
DOCUMENTS = [
    path
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    if any(True for _ in SYBIL.parse(path))
]


def test_the_readme_and_the_docs_have_examples() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in DOCUMENTS}
    assert {"README.md", "docs/getting-started.md", "docs/configuration.md"} <= names


@pytest.mark.parametrize(
    "path", DOCUMENTS, ids=[path.relative_to(ROOT).as_posix() for path in DOCUMENTS]
)
def test_examples_run(
    path: Path,
    s3: S3Bucket,
    static_source: StaticSource,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if (
        path.name == "s3-compatible.md"
        and "request_checksum_calculation" not in Config.OPTION_DEFAULTS
    ):
        # The page says so: boto3 before 1.36 knows neither checksum keyword.
        pytest.skip("its client settings are boto3 1.36's")
    monkeypatch.setenv("STATIC_S3_BUCKET", "my-bucket")
    monkeypatch.delenv("STATIC_BACKEND", raising=False)
    document = SYBIL.parse(path)
    site = DocsSite(s3, static_source)
    namespace: dict[str, Any] = {
        "site": site,
        "BASE_DIR": tmp_path,
        "MIDDLEWARE": [],
    }
    document.namespace.update(namespace)
    evaluated = 0
    for example in document:
        example.evaluate()
        evaluated += 1
    assert evaluated
