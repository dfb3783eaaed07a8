"""The Django-facing storage class.

During a collectstatic run, file operations are local (a staging directory)
and publication is remote; outside a run, the class is django-storages'
``S3ManifestStaticStorage``, with the manifest read on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.files.base import ContentFile
from storages.backends.s3 import S3StaticStorage
from storages.utils import clean_name, safe_join

from .collect.hashing import (
    HASHING_ATTRIBUTES,
    HASHING_METHODS,
    UNSERVED_BASE_URL,
    PostProcessResult,
    rewritable,
)
from .collect.run import RunResult
from .collect.run_setup import RunSetup
from .deploy.objects import GZIP_CONTENT_TYPES, write_parameters
from .errors import SettingError, UnsafeObjectName, setting_reference
from .lazy_manifest import LazyManifest
from .options import (
    SyncOptions,
    bucket_problem,
    configured_location,
    location_problem,
    unknown_option_problem,
)
from .planning.names import is_clean
from .run_mode import RunModeFileOperations
from .run_urls import RunModeURLs
from .s3 import (
    RemoteObject,
    S3Location,
    fetch_object,
    shared_service_models,
    with_default_retries,
)
from .upload.deferred import connect_in_background
from .upload.engines import make_uploader

if TYPE_CHECKING:
    from botocore.credentials import Credentials
    from mypy_boto3_s3 import S3Client

    from .console import DryRunReport, PublishReport
    from .upload.uploader import Uploader


class ManifestSyncS3Storage(  # type: ignore[misc]
    LazyManifest,
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
        self._manifest_paths = None
        self._manifest_hash = None
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
            self._refuse_hashing_customisations()
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

    def _refuse_hashing_customisations(self) -> None:
        customised = hashing_customisations(type(self))
        if customised:
            raise SettingError(
                f"{type(self).__qualname__} customises hashing "
                f"({', '.join(customised)}), but hashing is done by "
                f"{setting_reference('local_storage_class')} = "
                f"{self.sync_options.local_storage_class!r}. Move the "
                "customisation to a subclass of that class."
            )

    def get_default_settings(self) -> dict[str, Any]:
        defaults: dict[str, Any] = super().get_default_settings()
        # Only the built-in default widens: GZIP_CONTENT_TYPES, the
        # gzip_content_types option and a class attribute still win.
        if not hasattr(settings, "GZIP_CONTENT_TYPES"):
            defaults["gzip_content_types"] = GZIP_CONTENT_TYPES
        return defaults

    # A collectstatic run -----------------------------------------------------

    def post_process(  # type: ignore[override]
        self, paths: dict[str, Any], dry_run: bool = False, **options: Any
    ) -> Iterator[PostProcessResult]:
        """Hash locally (passing Django's results through untouched), then
        publish the delta to S3. Skip both when no source changed."""
        run = self._current_run()
        if run is None:
            # Called outside collectstatic: the sources are staged from paths.
            run = self._start_run(None)
        try:
            yield from run.post_process(paths, dry_run=dry_run, **options)
        finally:
            self._apply(run.result)
            self._end_run(run)

    def _apply(self, result: RunResult) -> None:
        """Take a run's result: its reports, and the manifest now live."""
        self.last_publish = result.report
        self.last_dry_run = result.dry_run_report
        if result.manifest is None or result.paths is None:
            return
        self.hashed_files = result.paths
        self.manifest_hash = result.manifest_hash
        given = self._manifest_storage
        if given is not self:
            # Where run time reads the manifest first.
            if given.exists(self.manifest_name):
                given.delete(self.manifest_name)
            given.save(self.manifest_name, ContentFile(result.manifest))

    def _run_setup(self) -> RunSetup:
        """What a run of this storage is handed (see ``collect/run.py``)."""
        # Before the run's first request (it reads the deployed manifest
        # while collectstatic copies).
        problem = bucket_problem(self.bucket_name)
        if problem:
            raise SettingError(problem)
        client, uploader = connect_in_background(self._connect)
        return RunSetup(
            manifest_name=self.manifest_name,
            options=self.sync_options,
            persistent_staging=self.persistent_staging_dir,
            hashing_class=self.local_storage_class,
            hasher=self._hasher,
            hash_files=self._hash_files,
            hashes_itself=not self.sync_options.local_storage_class_set,
            patterns=rewritable(self),
            destination=self,
            client=client,
            uploader=uploader,
            retry_delays=tuple(self.upload_retry_delays),
        )

    def _connect(self) -> tuple[S3Client, Uploader]:
        """A run's client and uploader (made in the background)."""
        client = self.s3_client
        # django-storages' URLs, asked for while hashing, read the bucket
        # object: made here, it does not cost hashing a connection of its own.
        self.bucket  # noqa: B018
        return client, make_uploader(self)

    def _hasher(self, root: Path) -> Any:
        """The storage that hashes: this one, or an instance of
        ``local_storage_class`` in the staging directory ``root``."""
        if not self.sync_options.local_storage_class_set:
            return self
        options = dict(self.sync_options.local_storage_options)
        # Django's check of STATIC_URL and MEDIA_URL is for local serving; the
        # files are served from S3, and the hashed names do not depend on it.
        static_url = settings.STATIC_URL
        if not static_url or static_url == settings.MEDIA_URL:
            options.setdefault("base_url", UNSERVED_BASE_URL)
        return self.local_storage_class(location=str(root), **options)

    def _hash_files(
        self, hasher: Any, paths: dict[str, Any], options: Mapping[str, Any]
    ) -> Iterator[PostProcessResult]:
        """Django's hashing of ``paths`` by ``hasher`` (see ``_hasher``)."""
        results: Iterator[PostProcessResult] = (
            self.hash_in_staging(paths, **options)
            if hasher is self
            else hasher.post_process(paths, dry_run=False, **options)
        )
        return results

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
        botocore's service models (see ``s3.shared_service_models``)."""
        session = super()._create_session()
        session._session.register_component("data_loader", shared_service_models())
        return session

    def session_credentials(self) -> Credentials | None:
        """The credentials this storage's client signs with (keys, profile or
        the default chain), for an upload engine that signs its own requests."""
        credentials: Credentials | None = self._create_session().get_credentials()
        return credentials

    @cached_property
    def s3_client(self) -> S3Client:
        client: S3Client = self.connection.meta.client
        return client

    def s3_location(self) -> S3Location:
        """The bucket, and the key prefix this storage's names live under."""
        key = self.object_key(self.manifest_name)
        return S3Location(self.bucket_name, key[: -len(self.manifest_name)])

    def fetch_deployed_manifest(self) -> RemoteObject | None:
        return fetch_object(
            self.s3_client, self.bucket_name, self.object_key(self.manifest_name)
        )

    def object_key(self, name: str) -> str:
        """The S3 key for a name, under ``location``. A name that would leave
        it is refused, not clamped: clean_name turns ``a/../../x`` into
        ``../x``, and safe_join with an empty ``location`` turns that into
        ``x``, another file's key."""
        if is_clean(name):
            # Every name in a manifest is clean: what safe_join gives.
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


def hashing_customisations(storage_class: type) -> list[str]:
    """Hashing attributes and methods ``storage_class`` defines below this
    package's class (that is, in a user's subclass)."""
    customised: list[str] = []
    for klass in storage_class.__mro__:
        if klass is ManifestSyncS3Storage:
            break
        customised.extend(
            name
            for name in (*HASHING_ATTRIBUTES, *HASHING_METHODS)
            if name in vars(klass) and name not in customised
        )
    return customised
