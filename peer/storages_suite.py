"""Run django-storages' ``tests/test_s3.py`` in one mode.

    python -m peer.storages_suite --import-path DIR --version V --mode MODE
        --output FILE [-k PATTERN ...]

Modes: ``stock`` (as published) or ``sync`` (``S3ManifestStaticStorage``
replaced by ``ManifestSyncS3Storage`` before the test module defines its
subclass of it), each with ``STATIC_URL`` set (``/static/``) or unset, as
their settings module leaves it: ``stock-static-url``, ``stock-no-static-url``,
``sync-static-url``, ``sync-no-static-url``.

Most of these tests mock the boto3 connection or use moto's in-process mock;
that is their suite, run as it is. One shim: moto 5 renamed ``mock_s3`` to
``mock_aws`` (same S3 mock), and the project's test server needs moto 5, so
``moto.mock_s3`` is made an alias when it is missing.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import unittest
from pathlib import Path
from typing import Any

MODES = {
    "stock-static-url": "S3ManifestStaticStorage, STATIC_URL = '/static/'",
    "stock-no-static-url": "S3ManifestStaticStorage, STATIC_URL unset",
    "sync-static-url": "ManifestSyncS3Storage, STATIC_URL = '/static/'",
    "sync-no-static-url": "ManifestSyncS3Storage, STATIC_URL unset",
}
TEST_MODULE = "tests.test_s3"
TEST_FILES = ("tests/test_s3.py",)


def configure(with_static_url: bool) -> None:
    import django
    from django.conf import settings

    test_settings = importlib.import_module("tests.settings")
    values = {
        name: getattr(test_settings, name)
        for name in dir(test_settings)
        if name.isupper()
    }
    if with_static_url:
        values["STATIC_URL"] = "/static/"
    settings.configure(**values)
    django.setup()


def alias_mock_s3() -> None:
    import moto

    if not hasattr(moto, "mock_s3"):
        moto.mock_s3 = moto.mock_aws  # type: ignore[attr-defined]


def substitute() -> dict[str, str]:
    from storages.backends import s3

    from django_s3_manifest_storage import ManifestSyncS3Storage

    s3.S3ManifestStaticStorage = ManifestSyncS3Storage
    return {
        "storages.backends.s3.S3ManifestStaticStorage": (
            "django_s3_manifest_storage.ManifestSyncS3Storage"
        )
    }


def run(args: argparse.Namespace) -> None:
    from .s3 import isolate_from_machine

    # Their package is called ``tests`` too: theirs must win.
    sys.path.insert(0, args.import_path)
    sys.modules.pop("tests", None)
    isolate_from_machine()
    configure(with_static_url="-no-static-url" not in args.mode)
    alias_mock_s3()
    substitutions = substitute() if args.mode.startswith("sync-") else {}

    from django.test.runner import DiscoverRunner

    from .results import CollectingResult, SuiteRun

    module: Any = importlib.import_module(TEST_MODULE)
    loader = unittest.TestLoader()
    if args.k:
        loader.testNamePatterns = [f"*{pattern}*" for pattern in args.k]
    suite = loader.loadTestsFromModule(module)
    runner = DiscoverRunner(verbosity=0, interactive=False)
    runner.setup_test_environment()
    databases = runner.setup_databases(aliases=runner.get_databases(suite))
    result = CollectingResult(TEST_FILES)
    try:
        suite.run(result)
    finally:
        runner.teardown_databases(databases)
        runner.teardown_test_environment()
    SuiteRun(
        suite="storages",
        version=args.version,
        mode=args.mode,
        description=MODES[args.mode],
        substitutions=substitutions,
        tests=result.tests(),
    ).write(Path(args.output))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--import-path", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("-k", action="append", default=[])
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
