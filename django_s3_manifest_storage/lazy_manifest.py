"""The manifest, read on first use: a mixin for the storage class.

Django's ``ManifestFilesMixin`` reads the manifest in ``__init__``; here it
is read when a URL first needs it, so a collectstatic run never pays for a
GET it ignores. Run time reads the staged copy when one exists (it matches
this code's release), else the live one on S3: one GET per process.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.core.files.storage import Storage

    from .collect.run import CollectRun
    from .options import SyncOptions
    from .s3 import RemoteObject

    StorageBase = Storage
else:
    StorageBase = object


class LazyManifest(StorageBase):
    """A mixin for the storage class, before ``ManifestFilesMixin`` in its
    MRO."""

    _constructed: bool
    _manifest_paths: dict[str, str] | None
    _manifest_hash: str | None
    _manifest_storage: Storage
    manifest_name: str
    sync_options: SyncOptions

    if TYPE_CHECKING:
        # Given by the storage class and its run-mode mixin.
        def _current_run(self) -> CollectRun | None: ...

        def fetch_deployed_manifest(self) -> RemoteObject | None: ...

    def load_manifest(self) -> Any:
        if not self._constructed:
            return {}, ""
        return super().load_manifest()  # type: ignore[misc]

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

    def read_manifest(self) -> str | None:
        """The manifest in ``manifest_storage`` when one was given; else the
        staged one (it matches this code's release), else the live one on
        S3: one GET."""
        if self._manifest_storage is not self:
            manifest: str | None = super().read_manifest()  # type: ignore[misc]
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
        """The staging directory when it outlives the process (the
        ``staging_dir`` option), else None. ``STATIC_ROOT`` is not read: the
        stock ``S3ManifestStaticStorage`` never writes there, and a staging
        directory that must end up holding the whole collection costs a full
        hashing pass on every fresh checkout."""
        return self.sync_options.staging_dir
