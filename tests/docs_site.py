"""What the documentation's examples run against (tests/test_docs_examples.py).

A ``DocsSite`` is one document's project: the suite's small static source,
a fresh bucket on the bundled S3 server, and the settings the last settings
example configured. An example's ``STORAGES`` is used as written, except for
where it connects: bucket, endpoint, credentials and region are the test
server's, since an example names a bucket of its own and placeholders such as
``<R2 access key id>``.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import shlex
import sys
import types
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.test import override_settings
from django.utils.module_loading import import_string

from django_s3_manifest_storage import ManifestSyncS3Storage

from .conftest import S3Bucket, StaticSource

# What an example never decides: where the test server is.
CONNECTION = ("bucket_name", "endpoint_url", "access_key", "secret_key", "region_name")


@dataclass
class Deployed:
    """One deploy's result, read back from S3."""

    s3: S3Bucket
    storage: Any
    location: str
    paths: dict[str, str]

    def key(self, name: str) -> str:
        return f"{self.location}/{name}" if self.location else name

    def hashed_key(self, name: str) -> str:
        return self.key(self.paths[name])

    def head(self, key: str) -> dict[str, Any]:
        return self.s3.head(key)


class DocsSite:
    def __init__(self, s3: S3Bucket, source: StaticSource) -> None:
        self.s3 = s3
        self.source = source
        self.storages: dict[str, Any] | None = None
        self.revision = 0
        # Django names a backend by its dotted path: classes an example
        # defines are reached through a module of their own.
        self.backends = types.ModuleType(f"docs_example_backends_{uuid.uuid4().hex}")
        sys.modules[self.backends.__name__] = self.backends

    def backend_path(self, backend: type) -> str:
        setattr(self.backends, backend.__name__, backend)
        return f"{self.backends.__name__}.{backend.__name__}"

    def connected(self, storages: dict[str, Any]) -> dict[str, Any]:
        """The example's STORAGES, pointed at the test bucket."""
        storages = copy.deepcopy(storages)
        storages.setdefault(
            "default", {"BACKEND": "django.core.files.storage.FileSystemStorage"}
        )
        static = storages["staticfiles"]
        options = static.setdefault("OPTIONS", {})
        ours = self.s3.options()
        for name in CONNECTION:
            options[name] = ours[name]
        if issubclass(import_string(static["BACKEND"]), ManifestSyncS3Storage):
            for name in ("client_config", "upload_engine"):
                if name in ours:
                    options.setdefault(name, ours[name])
        return storages

    @contextmanager
    def settings(self) -> Iterator[None]:
        if self.storages is None:
            raise AssertionError("No settings example came before this command.")
        with override_settings(
            STATICFILES_DIRS=[str(self.source.root)],
            STATIC_ROOT=None,
            STORAGES=self.storages,
        ):
            yield

    def use(self, storages: dict[str, Any]) -> None:
        self.storages = self.connected(storages)

    def deploy(
        self,
        storages: dict[str, Any] | type | None = None,
        *,
        files: dict[str, bytes] | None = None,
        **options: Any,
    ) -> Deployed:
        """collectstatic with an example's STORAGES, or its storage class
        (with the test bucket's options and ``options``); checks that the
        manifest on S3 names only objects that are there."""
        if isinstance(storages, type):
            storages = {
                "staticfiles": {
                    "BACKEND": self.backend_path(storages),
                    "OPTIONS": {"location": "static"},
                }
            }
        if storages is not None:
            self.use(storages)
        assert self.storages is not None
        self.storages["staticfiles"]["OPTIONS"].update(options)
        for name, content in (files or {}).items():
            self.source.write(name, content)
        with self.settings():
            call_command("collectstatic", interactive=False, verbosity=0)
            storage = staticfiles_storage._wrapped
            return self.check(storage)

    def check(self, storage: Any) -> Deployed:
        location = storage.location
        deployed = Deployed(self.s3, storage, location, {})
        manifest_key = deployed.key(storage.manifest_name)
        head = self.s3.head(manifest_key)
        body = self.s3.get(manifest_key)
        if head.get("ContentEncoding") == "gzip":
            body = gzip.decompress(body)
        deployed.paths = json.loads(body)["paths"]
        present = set(self.s3.object_keys(f"{location}/" if location else ""))
        missing = {
            name
            for name in deployed.paths.values()
            if deployed.key(name) not in present
        }
        assert not missing, f"The manifest names objects S3 lacks: {missing}"
        assert storage.url("css/site.css").endswith(deployed.paths["css/site.css"])
        return deployed

    def deploy_releases(self, count: int, **options: Any) -> list[Deployed]:
        """``count`` deploys of the current settings, a stylesheet changed
        before each one after the first, so that each publishes a release."""
        releases = []
        for _ in range(count):
            self.revision += 1
            files = {"css/plain.css": f"p {{ margin: {self.revision}px; }}\n".encode()}
            releases.append(self.deploy(files=files, **options))
        return releases

    def manage(self, command_line: str) -> str:
        """Run ``manage.py ARGS`` (the part after ``manage.py``) in the
        current settings; its output. A failing command raises."""
        name, *arguments = shlex.split(command_line, comments=True)
        out = io.StringIO()
        with self.settings():
            call_command(name, *arguments, stdout=out, stderr=out)
        return out.getvalue()


def shape(line: str) -> str:
    """A line of command output without what differs between runs: ids,
    times, counts, sizes and bucket URLs become ``#``."""
    return " ".join(
        "#" if token.startswith("s3://") or any(c.isdigit() for c in token) else token
        for token in line.split()
    )
