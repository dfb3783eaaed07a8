"""The Django-facing storage class. Thin: file operations are local, URLs and
publication are remote."""

from __future__ import annotations

import importlib.metadata
import posixpath
import shutil
import tempfile
from collections.abc import Collection, Iterator
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import django
from botocore.config import Config
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.contrib.staticfiles.utils import matches_patterns
from django.core.files.base import File
from django.core.files.storage import Storage
from django.core.files.utils import validate_file_name
from storages.backends.s3 import S3StaticStorage
from storages.utils import clean_name, safe_join

from .command import CommandOptions, current_command_options
from .configuration import bucket_problem, configured_location, location_problem
from .deploy import DeployedState, Deployment, DeployPolicy, PublishReport, logger
from .dry_run import DryRunReport
from .errors import SettingError, UnsafeObjectName, setting_reference
from .fingerprint import (
    context_digest,
    digest_found_files,
    parameters_digest,
    sources_fingerprint,
)
from .object_parameters import GZIP_CONTENT_TYPES, write_parameters
from .options import SyncOptions
from .plan import is_hashed
from .publish import Uploader
from .remote import RemoteObject, fetch_object
from .retries import with_default_retries
from .staging import DeferredCopies, filesystem_source

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_s3 import S3Client

PostProcessResult = tuple[str, str | None, Any]


class ManifestSyncS3Storage(ManifestFilesMixin, S3StaticStorage):  # type: ignore[misc]
    """A drop-in ``S3ManifestStaticStorage`` that collects locally and uploads
    only what the deployed manifest lacks.

    Accepts every django-storages S3 option and ``AWS_*`` setting, plus this
    package's own options (``options.SyncOptions``; the README has the table).
    """

    last_publish: PublishReport | None = None
    last_dry_run: DryRunReport | None = None
    client_config: Config

    def __init__(self, **options: Any) -> None:
        # django-storages refuses a leading slash too, without naming the setting.
        problem = location_problem(configured_location(type(self), options))
        if problem:
            raise SettingError(problem)
        self.sync_options = SyncOptions.pop_from(options)
        self.local_storage_class = self.sync_options.import_local_storage_class()
        self._deployed_paths: dict[str, str] | None = None
        self.deferred_copies = DeferredCopies()
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

    def get_default_settings(self) -> dict[str, Any]:
        defaults: dict[str, Any] = super().get_default_settings()
        # Only the built-in default widens: GZIP_CONTENT_TYPES, the
        # gzip_content_types option and a class attribute still win.
        if not hasattr(settings, "GZIP_CONTENT_TYPES"):
            defaults["gzip_content_types"] = GZIP_CONTENT_TYPES
        return defaults

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
        self.deferred_copies.materialize(self.staging_dir, name)
        return self._local.path(name)

    def exists(self, name: str) -> bool:
        return name in self.deferred_copies or self._local.exists(name)

    def open(self, name: str, mode: str = "rb") -> File:  # type: ignore[type-arg]
        self.deferred_copies.materialize(self.staging_dir, name)
        return self._local.open(name, mode)

    def save(
        self, name: str | None, content: IO[Any], max_length: int | None = None
    ) -> str:
        source = filesystem_source(content)
        if name is None or source is None or self.exists(name):
            return self._local.save(name, content, max_length)
        validate_file_name(name, allow_relative_path=True)
        self.deferred_copies.record(name, source)
        return name

    def delete(self, name: str) -> None:
        self.deferred_copies.forget(name)
        self._local.delete(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        self.deferred_copies.materialize_all(self.staging_dir)
        return self._local.listdir(path)

    def size(self, name: str) -> int:
        self.deferred_copies.materialize(self.staging_dir, name)
        return self._local.size(name)

    def get_modified_time(self, name: str) -> datetime:
        self.deferred_copies.materialize(self.staging_dir, name)
        return self._local.get_modified_time(name)

    def get_accessed_time(self, name: str) -> datetime:
        self.deferred_copies.materialize(self.staging_dir, name)
        return self._local.get_accessed_time(name)

    def get_created_time(self, name: str) -> datetime:
        self.deferred_copies.materialize(self.staging_dir, name)
        return self._local.get_created_time(name)

    # Publication -------------------------------------------------------------

    def post_process(  # type: ignore[override]
        self, paths: dict[str, Any], dry_run: bool = False, **options: Any
    ) -> Iterator[PostProcessResult]:
        """Hash locally (passing Django's results through untouched), then
        publish the delta to S3. Skip both when no source changed."""
        problem = bucket_problem(self.bucket_name)
        if problem:
            raise SettingError(problem)
        command = current_command_options()
        deployment = self.start_deployment(command)
        context = context_digest(self.fingerprint_context())
        sources = sources_fingerprint(digest_found_files(paths), context)
        if dry_run:
            self.last_dry_run = self.plan_dry_run(deployment, paths, sources, context)
            self.last_dry_run.write_to(command)
            return
        deployed = deployment.deployed()
        if self.sync_options.skip_unchanged and deployment.serves(deployed, sources):
            report = deployment.adopt(deployed)
            self.adopt_manifest(deployed)
        else:
            self.deferred_copies.materialize_all(self.staging_dir)
            early = deployment.early_uploads(self.staging_dir, deployed, context)
            rewritable = [
                glob for glob, _ in getattr(self.local_storage, "patterns", ())
            ]
            failed = True
            try:
                for (
                    original_name,
                    processed_name,
                    result,
                ) in self.local_storage.post_process(paths, dry_run=False, **options):
                    yield original_name, processed_name, result
                    if isinstance(result, Exception):
                        return
                    if processed_name and not matches_patterns(
                        original_name, rewritable
                    ):
                        early.offer(processed_name)
                failed = False
            finally:
                if failed:
                    early.cancel()
            try:
                plan = deployment.plan(self.staging_dir, deployed, sources, context)
            except BaseException:
                early.cancel()
                raise
            sent = early.finish(set(plan.local_paths.values()))
            report = deployment.publish(self.staging_dir, plan, sent)
            self.hashed_files = dict(self.local_storage.hashed_files)
        self.last_publish = report
        logger.info(report.summary())
        command.write(report.summary())
        if self.persistent_staging_dir is None:
            self.discard_temporary_staging()

    def start_deployment(self, command: CommandOptions) -> Deployment:
        """Begin a deploy: its reads of S3 start now, in the background."""
        return Deployment(
            destination=self,
            client=self.s3_client,
            uploader=Uploader(
                self.s3_client,
                self.bucket_name,
                concurrency=self.sync_options.upload_concurrency,
                transfer_config=self.transfer_config,
            ),
            manifest_name=self.manifest_name,
            policy=DeployPolicy(
                clear=command.clear,
                keep_releases=self.sync_options.keep_releases,
                verify_remote=self.sync_options.verify_remote,
            ),
            command=command,
        )

    def plan_dry_run(
        self,
        deployment: Deployment,
        paths: dict[str, Any],
        sources: str,
        context: str,
    ) -> DryRunReport:
        """What a deploy would do. Django copies nothing in a dry run, so the
        found files are collected and hashed in a throwaway directory."""
        deployed = deployment.deployed()
        if self.sync_options.skip_unchanged and deployment.serves(deployed, sources):
            assert deployed.paths is not None
            return DryRunReport(
                destination=deployment.url,
                uploads=(),
                upload_bytes=0,
                unchanged=len(deployed.collection_names()),
                deletions=deployment.stale_names(deployed.paths),
            )
        with tempfile.TemporaryDirectory(prefix="s3-manifest-dry-run-") as scratch:
            local_storage: Any = self.local_storage_class(
                location=scratch, **self.sync_options.local_storage_options
            )
            for name, (source_storage, path) in paths.items():
                with source_storage.open(path) as source:
                    local_storage.save(name, source)
            for _name, _processed, result in local_storage.post_process(
                paths, dry_run=False
            ):
                if isinstance(result, Exception):
                    raise result
            plan = deployment.plan(Path(scratch), deployed, sources, context)
        return DryRunReport(
            destination=deployment.url,
            uploads=tuple(name for wave in plan.publish.waves for name in wave),
            upload_bytes=plan.upload_bytes,
            unchanged=plan.publish.unchanged,
            deletions=deployment.stale_names(plan.local_paths),
        )

    def adopt_manifest(self, deployed: DeployedState) -> None:
        """Take the deployed manifest as this run's result."""
        assert deployed.paths is not None
        assert deployed.manifest is not None
        self.hashed_files = dict(deployed.paths)
        persistent_staging = self.persistent_staging_dir
        if persistent_staging is not None:
            # Keep the staged manifest in step: run time reads it first.
            persistent_staging.mkdir(parents=True, exist_ok=True)
            (persistent_staging / self.manifest_name).write_bytes(deployed.manifest)

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

    def discard_temporary_staging(self) -> None:
        shutil.rmtree(self.staging_dir, ignore_errors=True)
        # The next collectstatic in this process gets a fresh directory.
        self.__dict__.pop("staging_dir", None)
        self.__dict__.pop("local_storage", None)
        self.deferred_copies = DeferredCopies()

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
        if (
            "\\" not in name
            and not name.startswith(("/", ".."))
            and posixpath.normpath(name) == name
        ):
            # Already clean (every name in a manifest is): what safe_join gives.
            return f"{self.location.rstrip('/')}/{name}".lstrip("/")
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
