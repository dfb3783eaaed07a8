"""Which upload engine a run uses (the ``upload_engine`` option).

``"boto3"``: the storage's boto3 client, one thread per upload in flight.
``"obstore"``: obstore for what it can send, boto3 for the rest (see
``obstore_engine``); needs the ``fast`` extra. ``"auto"``: obstore when it is
installed and the storage's client settings can be copied to it, else boto3.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING

from botocore.exceptions import NoCredentialsError

from .publish import Uploader

if TYPE_CHECKING:
    from .storage import ManifestSyncS3Storage

logger = logging.getLogger("django_s3_manifest_storage")


def obstore_installed() -> bool:
    return importlib.util.find_spec("obstore") is not None


def make_uploader(storage: ManifestSyncS3Storage) -> Uploader:
    """The uploader for one run of ``storage``."""
    engine = storage.sync_options.upload_engine
    if engine != "boto3" and obstore_installed():
        uploader = _obstore_uploader(storage)
        if uploader is not None:
            return uploader
        if engine == "obstore":
            logger.info(
                "upload_engine 'obstore': the S3 client settings cannot be "
                "copied to obstore; uploading with boto3."
            )
    return Uploader(
        storage.s3_client,
        storage.bucket_name,
        concurrency=storage.sync_options.upload_concurrency,
        transfer_config=storage.transfer_config,
    )


def _obstore_uploader(storage: ManifestSyncS3Storage) -> Uploader | None:
    from .obstore_engine import ObstoreUploader
    from .obstore_settings import store_settings

    if not storage.bucket_name:
        return None  # the deploy reports the missing setting, as without obstore
    # The session django-storages builds for its own client (keys, profile or
    # the default chain): obstore signs with the very same credentials.
    credentials = storage._create_session().get_credentials()
    if credentials is None:
        return None  # boto3 reports the missing credentials, as without obstore
    client = storage.s3_client
    try:
        settings = store_settings(
            client, storage.bucket_name, verify=getattr(storage, "verify", None)
        )
    except NoCredentialsError:
        return None
    if settings is None:
        return None
    return ObstoreUploader(
        client,
        storage.bucket_name,
        concurrency=storage.sync_options.upload_concurrency,
        transfer_config=storage.transfer_config,
        settings=settings,
        credentials=credentials,
    )
