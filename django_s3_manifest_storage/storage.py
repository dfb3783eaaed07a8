"""The Django-facing storage class. Thin: file operations are local, URLs and
publication are remote."""

from __future__ import annotations

import importlib.metadata
import shutil
import tempfile
import time
from collections.abc import Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import django
from botocore.config import Config
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.files.base import File
from django.core.files.storage import Storage
from storages.backends.s3 import S3StaticStorage
from storages.utils import clean_name, safe_join

from .configuration import bucket_problem, configured_location, location_problem
from .deploy import (
    DeployedState,
    PublishReport,
    destination_url,
    logger,
    publish_collection,
)
from .errors import SettingError, UnsafeObjectName, setting_reference
from .fingerprint import (
    context_digest,
    digest_found_files,
    parameters_digest,
    sources_fingerprint,
)
from .object_parameters import write_parameters
from .options import SyncOptions
from .plan import is_hashed
from .publish import Uploader
from .remote import RemoteObject, fetch_object
from .retries import with_default_retries

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_s3 import S3Client

PostProcessResult = tuple[str, str | None, Any]


class ManifestSyncS3Storage(ManifestFilesMixin, S3StaticStorage):  # type: ignore[misc]
    """A drop-in ``S3ManifestStaticStorage`` that collects locally and uploads
    only what the deployed manifest lacks.

    Accepts every django-storages S3 option and ``AWS_*`` setting, plus
    ``upload_concurrency``, ``local_storage_class``, ``local_storage_options``
    and ``staging_dir``.
    """

    last_publish: PublishReport | None = None
    client_config: Config

    def __init__(self, **options: Any) -> None:
        # django-storages refuses a leading slash too, without naming the setting.
        problem = location_problem(configured_location(type(self), options))
        if problem:
            raise SettingError(problem)
        self.sync_options = SyncOptions.pop_from(options)
        self.local_storage_class = self.sync_options.import_local_storage_class()
        self._deployed_paths: dict[str, str] | None = None
        super().__init__(**options)
        # The manifest's name is the local storage's: it is the file uploaded.
        self.manifest_name = self.local_storage_class.manifest_name
        # One client serves every upload thread: give it a connection each,
        # or urllib3 discards connections ("Connection pool is full").
        pool_size = max(
            getattr(self.client_config, "max_pool_connections", None) or 10,
            self.sync_options.upload_concurrency,
        )
        self.client_config = self.client_config.merge(
            Config(max_pool_connections=pool_size)
        )
        self.client_config = with_default_retries(self.client_config)

    # Run time: URLs from the manifest --------------------------------------

    # ManifestFilesMixin reads the manifest in __init__. A collectstatic run
    # never needs the deployed manifest for URLs, and reading it there would
    # cost an extra S3 GET, so it is read on the first URL lookup instead.
    def load_manifest(self) -> Any:
        return None, ""

    @property
    def hashed_files(self) -> dict[str, str]:
        if self._deployed_paths is None:
            # The stubs say dict; Django returns (paths, manifest hash).
            loaded: tuple[dict[str, str], str] = super().load_manifest()  # type: ignore[assignment]
            self._deployed_paths, self.manifest_hash = loaded
        return self._deployed_paths

    @hashed_files.setter
    def hashed_files(self, paths: dict[str, str] | None) -> None:
        self._deployed_paths = paths

    # Django returns None when there is no manifest; the stubs say str.
    def read_manifest(self) -> str | None:  # type: ignore[override]
        """The staged manifest when there is one (it matches this code's
        release), else the deployed one on S3: one GET."""
        persistent_staging = self.persistent_staging_dir
        if persistent_staging is not None:
            staged = persistent_staging / self.manifest_name
            if staged.is_file():
                return staged.read_text(encoding="utf-8")
        deployed = self.fetch_deployed_manifest()
        return None if deployed is None else deployed.body.decode("utf-8")

    # Local staging: every file operation of collectstatic lands here -------

    @property
    def persistent_staging_dir(self) -> Path | None:
        """The staging directory when it outlives the process, else None."""
        if self.sync_options.staging_dir is not None:
            return self.sync_options.staging_dir
        if settings.STATIC_ROOT:
            return Path(settings.STATIC_ROOT)
        return None

    @cached_property
    def staging_dir(self) -> Path:
        persistent = self.persistent_staging_dir
        if persistent is not None:
            return persistent
        return Path(tempfile.mkdtemp(prefix="s3-manifest-staging-"))

    @cached_property
    def local_storage(self) -> ManifestFilesMixin:
        return self.local_storage_class(
            location=str(self.staging_dir), **self.sync_options.local_storage_options
        )

    @property
    def _local(self) -> Storage:
        local: Storage = self.local_storage  # type: ignore[assignment]
        return local

    def path(self, name: str) -> str:
        return self._local.path(name)

    def exists(self, name: str) -> bool:
        return self._local.exists(name)

    def open(self, name: str, mode: str = "rb") -> File:  # type: ignore[type-arg]
        return self._local.open(name, mode)

    def save(
        self, name: str | None, content: IO[Any], max_length: int | None = None
    ) -> str:
        return self._local.save(name, content, max_length)

    def delete(self, name: str) -> None:
        self._local.delete(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self._local.listdir(path)

    def size(self, name: str) -> int:
        return self._local.size(name)

    def get_modified_time(self, name: str) -> datetime:
        return self._local.get_modified_time(name)

    def get_accessed_time(self, name: str) -> datetime:
        return self._local.get_accessed_time(name)

    def get_created_time(self, name: str) -> datetime:
        return self._local.get_created_time(name)

    # Publication -------------------------------------------------------------

    def post_process(  # type: ignore[override]
        self, paths: dict[str, Any], dry_run: bool = False, **options: Any
    ) -> Iterator[PostProcessResult]:
        """Hash locally (passing Django's results through untouched), then
        publish the delta to S3. Skip both when no source changed."""
        if dry_run:
            yield from self.local_storage.post_process(paths, dry_run=True, **options)
            return
        problem = bucket_problem(self.bucket_name)
        if problem:
            raise SettingError(problem)
        started = time.monotonic()
        # Read the deployed manifest while the sources are fingerprinted.
        remote_manifest = _in_background(self.fetch_deployed_manifest)
        context = context_digest(self.fingerprint_context())
        sources = sources_fingerprint(digest_found_files(paths), context)
        deployed = DeployedState.from_remote(
            remote_manifest.result(),
            f"s3://{self.bucket_name}/{self.object_key(self.manifest_name)}",
        )
        if self.sync_options.skip_unchanged and self.is_deployed(deployed, sources):
            report = self.adopt_deployed(deployed, time.monotonic() - started)
        else:
            failed = False
            for (
                original_name,
                processed_name,
                result,
            ) in self.local_storage.post_process(paths, dry_run=False, **options):
                failed = failed or isinstance(result, Exception)
                yield original_name, processed_name, result
            if failed:
                return
            self.last_publish = report = publish_collection(
                staging=self.staging_dir,
                manifest_name=self.manifest_name,
                deployed=deployed,
                sources_fingerprint=sources,
                context=context,
                destination=self,
                uploader=Uploader(
                    self.s3_client,
                    self.bucket_name,
                    concurrency=self.sync_options.upload_concurrency,
                    transfer_config=self.transfer_config,
                ),
            )
            self.hashed_files = dict(self.local_storage.hashed_files)
        logger.info(report.summary())
        if self.persistent_staging_dir is None:
            self.discard_temporary_staging()

    def fingerprint_context(self) -> dict[str, Any]:
        """Everything besides the sources that shapes the collection."""
        return {
            "django": django.__version__,
            "django-s3-manifest-storage": _version("django-s3-manifest-storage"),
            "whitenoise": _version("whitenoise"),
            "local_storage_class": self.sync_options.local_storage_class,
            "local_storage_options": self.sync_options.local_storage_options,
            "manifest_name": self.manifest_name,
            "STATIC_URL": settings.STATIC_URL,
            "WHITENOISE": {
                name: getattr(settings, name)
                for name in dir(settings)
                if name.startswith("WHITENOISE_")
            },
        }

    def is_deployed(self, deployed: DeployedState, sources: str) -> bool:
        """Whether S3 already serves what these sources would publish."""
        return (
            deployed.paths is not None
            and deployed.stamp.sources == sources
            and deployed.stamp.parameters
            == self.parameters_digest(
                deployed.collection_names(), deployed.hashed_names()
            )
        )

    def adopt_deployed(self, deployed: DeployedState, seconds: float) -> PublishReport:
        """Take the deployed manifest as this run's result."""
        assert deployed.paths is not None
        assert deployed.manifest is not None
        self.hashed_files = dict(deployed.paths)
        persistent_staging = self.persistent_staging_dir
        if persistent_staging is not None:
            # Keep the staged manifest in step: run time reads it first.
            (persistent_staging / self.manifest_name).write_bytes(deployed.manifest)
        self.last_publish = report = PublishReport(
            destination=destination_url(self),
            uploaded=(),
            uploaded_bytes=0,
            unchanged=len(deployed.collection_names()),
            seconds=seconds,
            reused_deployed=True,
        )
        return report

    def discard_temporary_staging(self) -> None:
        shutil.rmtree(self.staging_dir, ignore_errors=True)
        del self.staging_dir
        del self.local_storage

    @cached_property
    def s3_client(self) -> S3Client:
        client: S3Client = self.connection.meta.client
        return client

    def fetch_deployed_manifest(self) -> RemoteObject | None:
        return fetch_object(
            self.s3_client, self.bucket_name, self.object_key(self.manifest_name)
        )

    def object_key(self, name: str) -> str:
        """The S3 key for a name, under ``location``. A name that would leave
        it is refused, not clamped: clean_name turns ``a/../../x`` into
        ``../x``, and safe_join with an empty ``location`` turns that into
        ``x``, another file's key."""
        slashed = name.replace("\\", "/")  # as clean_name reads backslashes
        try:
            if slashed.startswith("/") or ".." in slashed.split("/"):
                raise ValueError(name)
            key: str = safe_join(self.location, clean_name(name))
        except ValueError as error:
            raise UnsafeObjectName(
                f"Refusing to upload {name!r}: its S3 key would not be under "
                f"{setting_reference('location')} = {self.location!r}."
            ) from error
        return key

    def upload_parameters(self, key: str, *, hashed: bool) -> dict[str, Any]:
        """Parameters for uploading ``key``: ``get_object_parameters(key)``
        completed with Content-Type and the default ACL, as django-storages
        does, and a Cache-Control for hashed or unhashed names unless one is
        set. Override ``get_object_parameters`` to customise."""
        parameters = write_parameters(
            key,
            self.get_object_parameters(key),
            default_acl=self.default_acl,
            default_content_type=self.default_content_type,
        )
        cache_control = (
            self.sync_options.hashed_cache_control
            if hashed
            else self.sync_options.unhashed_cache_control
        )
        if cache_control and "CacheControl" not in parameters:
            parameters["CacheControl"] = cache_control
        return parameters

    def parameters_digest(
        self, names: Collection[str], hashed_names: Collection[str]
    ) -> str:
        """A digest of the upload parameters of every name."""

        def parameters(name: str) -> dict[str, Any]:
            uploaded = self.upload_parameters(
                self.object_key(name), hashed=is_hashed(name, hashed_names)
            )
            return {**uploaded, "gzip": self.should_gzip(uploaded)}

        return parameters_digest((name, parameters(name)) for name in names)

    def should_gzip(self, parameters: dict[str, Any]) -> bool:
        """django-storages' ``gzip`` option: compress these content types."""
        return bool(
            self.gzip
            and parameters["ContentType"] in self.gzip_content_types
            and "ContentEncoding" not in parameters
        )


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _in_background(function: Any) -> Future[Any]:
    executor = ThreadPoolExecutor(1, thread_name_prefix="s3-manifest-read")
    future = executor.submit(function)
    executor.shutdown(wait=False)
    return future
