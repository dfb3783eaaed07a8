"""Run Django's ``staticfiles_tests/test_storage.py`` in one mode.

    python -m peer.django_suite --import-path DIR --version V --mode MODE
        --output FILE [-k PATTERN ...]

Modes (one process each, since settings are configured once):

- ``django``: as published, Django's storages on the local disk. Checks the
  harness: every test should pass.
- ``stock-s3``: django-storages' ``S3ManifestStaticStorage`` against the
  test S3 server, Django's test storages rebased onto it. What stock does is
  the reference for differences inherent to S3.
- ``sync-subclass``: ``ManifestSyncS3Storage``, Django's test storages
  rebased onto it (a user who switched the base class of a subclass).
- ``sync-local``: ``ManifestSyncS3Storage`` with Django's test storages as
  ``local_storage_class`` (classes the tests instantiate themselves are
  rebased, as in ``sync-subclass``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import unittest
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MODES = {
    "django": "as published (Django's storages, local disk)",
    "stock-s3": "S3ManifestStaticStorage, test storages rebased onto it",
    "sync-subclass": "ManifestSyncS3Storage, test storages rebased onto it",
    "sync-local": "ManifestSyncS3Storage, test storages as local_storage_class",
}
TEST_MODULE = "staticfiles_tests.test_storage"
TEST_FILES = ("staticfiles_tests/test_storage.py", "staticfiles_tests/cases.py")


def configure(static_root: Path, extra: dict[str, Any]) -> None:
    """Settings as Django's runtests.py gives them to this test module."""
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="peer-suite",
        INSTALLED_APPS=["django.contrib.staticfiles"],
        STATIC_URL="static/",
        STATIC_ROOT=str(static_root),
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
            }
        ],
        USE_TZ=True,
        **extra,
    )
    django.setup()


def test_classes(module: Any) -> list[type]:
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, unittest.TestCase)
    ]


def backends_named_in_settings(classes: list[type]) -> set[str]:
    """Class names of the test module that STORAGES settings refer to."""
    from django.conf import STATICFILES_STORAGE_ALIAS

    names = set()
    for cls in classes:
        overridden = cls.__dict__.get("_overridden_settings") or {}
        config = overridden.get("STORAGES", {}).get(STATICFILES_STORAGE_ALIAS)
        if config and config["BACKEND"].startswith(f"{TEST_MODULE}."):
            names.add(config["BACKEND"].rsplit(".", 1)[1])
    return names


def substitute(mode: str, module: Any) -> tuple[dict[str, str], type | None]:
    """Apply the mode's substitutions; return them and the class every
    configured manifest storage must now be an instance of."""
    from django.utils.module_loading import import_string

    from .substitution import (
        STOCK_BACKEND,
        SYNC_BACKEND,
        by_local_storage_class,
        by_rebasing,
        substitute_class_settings,
        substitute_module_classes,
    )

    if mode == "django":
        return {}, None
    base_path = STOCK_BACKEND if mode == "stock-s3" else SYNC_BACKEND
    base: type = import_string(base_path)
    classes = test_classes(module)
    keep = backends_named_in_settings(classes)
    replaced = substitute_module_classes(module, base, keep)
    rule = by_local_storage_class if mode == "sync-local" else by_rebasing(base_path)
    replaced.update(substitute_class_settings(classes, rule))
    return replaced, base


class CreatedStorages:
    """Records the staticfiles storages Django builds from STORAGES, to catch
    a manifest storage the substitution missed (a new test in a new Django
    release, a method-level override)."""

    def __init__(self, base: type) -> None:
        self.base = base
        self.created: list[object] = []

    def install(self) -> None:
        from django.core.files.storage.handler import StorageHandler

        create_storage = StorageHandler.create_storage
        created = self.created

        def recording(handler: Any, params: dict[str, Any]) -> Any:
            storage = create_storage(handler, params)
            created.append(storage)
            return storage

        StorageHandler.create_storage = recording  # type: ignore[method-assign, assignment]

    @contextmanager
    def around(self, test: object) -> Iterator[None]:
        self.created.clear()
        yield

    def unsubstituted(self, test: unittest.TestCase) -> Any:
        from django.contrib.staticfiles.storage import ManifestFilesMixin

        from .results import Problem

        missed = [
            type(storage).__qualname__
            for storage in self.created
            if isinstance(storage, ManifestFilesMixin)
            and not isinstance(storage, self.base)
        ]
        if not missed:
            return None
        return Problem(
            kind="error",
            cause=f"harness: {', '.join(missed)} was not substituted",
            where="",
        )


def run(args: argparse.Namespace) -> None:
    from .results import CollectingResult, SuiteRun

    sys.path.insert(0, args.import_path)
    scratch = Path(tempfile.mkdtemp(prefix="peer-django-"))
    server = None
    extra: dict[str, Any] = {}
    if args.mode != "django":
        from django_s3_manifest_storage.testing.s3_server import LocalS3Server

        from .s3 import aws_settings, isolate_from_machine

        isolate_from_machine()
        server = LocalS3Server().start()
        extra = aws_settings(server.endpoint_url)
    configure(scratch / "static", extra)

    import importlib

    from django.test.runner import DiscoverRunner

    module = importlib.import_module(TEST_MODULE)
    substitutions, base = substitute(args.mode, module)
    guard = None
    around = None
    if server is not None and base is not None:
        from .s3 import BucketPerTest
        from .urls import translate_static_tag

        translate_static_tag()
        guard = CreatedStorages(base)
        guard.install()
        buckets = BucketPerTest(server)

        @contextmanager
        def around_each(test: object) -> Iterator[None]:
            with buckets(test), guard.around(test):
                yield

        around = around_each

    loader = unittest.TestLoader()
    if args.k:
        loader.testNamePatterns = [f"*{pattern}*" for pattern in args.k]
    suite = loader.loadTestsFromModule(module)
    runner = DiscoverRunner(verbosity=0, interactive=False)
    runner.setup_test_environment()
    databases = runner.setup_databases(aliases=runner.get_databases(suite))
    result = CollectingResult(
        TEST_FILES,
        around_each=around,
        after_each=guard.unsubstituted if guard else None,
    )
    try:
        suite.run(result)
    finally:
        runner.teardown_databases(databases)
        runner.teardown_test_environment()
        if server is not None:
            server.stop()
    SuiteRun(
        suite="django",
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
