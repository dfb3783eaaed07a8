"""The Django-facing storage class.

During a collectstatic run, file operations are local (a staging directory)
and publication is remote; outside a run, the class is django-storages'
``S3ManifestStaticStorage``, with the manifest read on first use.
"""

from __future__ import annotations

import posixpath
import threading
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.files.storage import Storage
from storages.backends.s3 import S3StaticStorage
from storages.utils import clean_name, safe_join

from .configuration import (
    bucket_problem,
    configured_location,
    location_problem,
    unknown_option_problem,
)
from .errors import SettingError, UnsafeObjectName, setting_reference
from .hashing import PostProcessResult, hashing_customisations
from .object_parameters import GZIP_CONTENT_TYPES, write_parameters
from .options import SyncOptions
from .remote import RemoteObject, fetch_object
from .retries import with_default_retries
from .run_mode import RunModeFileOperations
from .run_urls import RunModeURLs
from .service_models import shared_service_models

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from .reports import DryRunReport, PublishReport


class ManifestSyncS3Storage(  # type: ignore[misc]
    RunModeFileOperations,
    ManifestFilesMixin,
    RunModeURLs,
    S3StaticStorage,  # type: ignore[misc]
):
    """A drop-in ``S3ManifestStaticStorage`` that collects locally and uploads
    only what the deployed manifest lacks.

    Accepts every django-storages S3 option and ``AWS_*`` setting, plus this
    package's own options (``options.SyncOptions``; the README has the table).
    """

    last_publish: PublishReport | None = None
    last_dry_run: DryRunReport | None = None
    client_config: Config

    # Pauses between rounds of retrying uploads that failed for a reason a
    # retry may cure (throttling, 5xx, dropped connections), on top of the
    # client's own retries; each round also halves the uploads in flight.
    upload_retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)

    def __init__(self, **options: Any) -> None:
        # ManifestFilesMixin reads the manifest in __init__; here it is read on
        # first use, so a collectstatic run never pays for a GET it ignores.
        self._constructed = False
        self._manifest_paths: dict[str, str] | None = None
        self._manifest_hash: str | None = None
        self._run = None
        self._run_lock = threading.Lock()
        # django-storages refuses a leading slash too, without naming the setting.
        problem = location_problem(configured_location(type(self), options))
        if problem:
            raise SettingError(problem)
        self.sync_options = SyncOptions.pop_from(options)
        self.local_storage_class = self.sync_options.import_local_storage_class()
        # manifest_storage is ManifestFilesMixin's argument, not a setting.
        problem = unknown_option_problem(
            {key: value for key, value in options.items() if key != "manifest_storage"},
            self.get_default_settings(),
            type(self).__name__,
        )
        if problem:
            raise SettingError(problem)
        super().__init__(**options)
        self._constructed = True
        if self.sync_options.local_storage_class_set:
            customised = hashing_customisations(type(self))
            if customised:
                raise SettingError(
                    f"{type(self).__qualname__} customises hashing "
                    f"({', '.join(customised)}), but hashing is done by "
                    f"{setting_reference('local_storage_class')} = "
                    f"{self.sync_options.local_storage_class!r}. Move the "
                    "customisation to a subclass of that class."
                )
        else:
            # Hashing runs on this class: its manifest name is the one uploaded.
            self.local_storage_class = type(self)
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

    # The manifest, read on first use ----------------------------------------

    def load_manifest(self) -> Any:
        if not self._constructed:
            return {}, ""
        return super().load_manifest()

    def _load_manifest_once(self) -> None:
        paths, manifest_hash = self.load_manifest()
        if self._manifest_paths is None:
            self._manifest_paths = paths
        if self._manifest_hash is None:
            self._manifest_hash = manifest_hash

    @property
    def hashed_files(self) -> dict[str, str]:
        if self._manifest_paths is None:
            self._load_manifest_once()
        assert self._manifest_paths is not None
        return self._manifest_paths

    @hashed_files.setter
    def hashed_files(self, paths: dict[str, str]) -> None:
        if self._constructed:
            self._manifest_paths = paths

    @hashed_files.deleter
    def hashed_files(self) -> None:
        self._manifest_paths = None

    @property
    def manifest_hash(self) -> str:
        if self._manifest_hash is None:
            self._load_manifest_once()
        assert self._manifest_hash is not None
        return self._manifest_hash

    @manifest_hash.setter
    def manifest_hash(self, value: str) -> None:
        if self._constructed:
            self._manifest_hash = value

    @manifest_hash.deleter
    def manifest_hash(self) -> None:
        self._manifest_hash = None

    @property
    def manifest_storage(self) -> Storage:
        """Django's ``manifest_storage``; during a run, hashing writes the
        manifest into the staging directory, from where it is published."""
        run = self._current_run()
        if run is not None:
            return run.staging.files
        return self._manifest_storage

    @manifest_storage.setter
    def manifest_storage(self, storage: Storage) -> None:
        self._manifest_storage = storage

    # Django returns None when there is no manifest; the stubs say str.
    def read_manifest(self) -> str | None:  # type: ignore[override]
        """The manifest in ``manifest_storage`` when one was given; else the
        staged one (it matches this code's release), else the live one on
        S3: one GET."""
        if self._manifest_storage is not self:
            manifest: str | None = super().read_manifest()
            return manifest
        persistent_staging = self.persistent_staging_dir
        if persistent_staging is not None:
            staged = persistent_staging / self.manifest_name
            if staged.is_file():
                return staged.read_text(encoding="utf-8")
        deployed = self.fetch_deployed_manifest()
        return None if deployed is None else deployed.body.decode("utf-8")

    @property
    def persistent_staging_dir(self) -> Path | None:
        """The staging directory when it outlives the process, else None."""
        if self.sync_options.staging_dir is not None:
            return self.sync_options.staging_dir
        if settings.STATIC_ROOT:
            return Path(settings.STATIC_ROOT)
        return None

    # Publication -------------------------------------------------------------

    def post_process(  # type: ignore[override]
        self, paths: dict[str, Any], dry_run: bool = False, **options: Any
    ) -> Iterator[PostProcessResult]:
        """Hash locally (passing Django's results through untouched), then
        publish the delta to S3. Skip both when no source changed."""
        problem = bucket_problem(self.bucket_name)
        if problem:
            raise SettingError(problem)
        run = self._current_run()
        if run is None:
            # Called outside collectstatic: the sources are staged from paths.
            run = self._start_run(None)
        try:
            yield from run.post_process(paths, dry_run=dry_run, **options)
        finally:
            self.last_publish = run.report
            self.last_dry_run = run.dry_run_report
            self._end_run(run)

    def hash_in_staging(
        self, paths: dict[str, Any], **options: Any
    ) -> Iterator[PostProcessResult]:
        """Django's own hashing (ManifestFilesMixin) on this class, with its
        file operations in the staging directory: the run's local pass when
        no ``local_storage_class`` is set."""
        results: Iterator[PostProcessResult] = super().post_process(
            paths, dry_run=False, **options
        )
        return results

    # S3 ----------------------------------------------------------------------

    def _create_session(self) -> Any:
        """django-storages' session, sharing the process's one loader of
        botocore's service models (see ``service_models``)."""
        session = super()._create_session()
        session._session.register_component("data_loader", shared_service_models())
        return session

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

    def should_gzip(self, parameters: dict[str, Any]) -> bool:
        """django-storages' ``gzip`` option: compress these content types."""
        return bool(
            self.gzip
            and parameters["ContentType"] in self.gzip_content_types
            and "ContentEncoding" not in parameters
        )
