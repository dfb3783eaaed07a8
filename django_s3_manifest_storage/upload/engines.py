"""Which upload engine a run uses (the ``upload_engine`` option).

``"boto3"``: the storage's boto3 client, one thread per upload in flight.
``"obstore"``: obstore for what it can send, boto3 for the rest (see
``obstore/engine.py``); needs the ``fast`` extra. ``"auto"``: obstore when it
is installed and the storage's client settings can be copied to it, else
boto3.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import NoCredentialsError

from .uploader import Boto3Uploader, Uploader

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig
    from botocore.credentials import Credentials
    from mypy_boto3_s3 import S3Client

    from ..options import SyncOptions

logger = logging.getLogger("django_s3_manifest_storage")


class UploadTarget(Protocol):
    """Where a run uploads and with which client: the storage offers it."""

    bucket_name: str
    sync_options: SyncOptions
    transfer_config: TransferConfig

    @property
    def s3_client(self) -> S3Client: ...

    def session_credentials(self) -> Credentials | None:
        """The credentials the storage's boto3 client signs with."""


def obstore_installed() -> bool:
    return importlib.util.find_spec("obstore") is not None


def make_uploader(target: UploadTarget) -> Uploader:
    """The uploader for one run to ``target``."""
    engine = target.sync_options.upload_engine
    if engine != "boto3" and obstore_installed():
        uploader = _obstore_uploader(target)
        if uploader is not None:
            return uploader
        if engine == "obstore":
            logger.info(
                "upload_engine 'obstore': the S3 client settings cannot be "
                "copied to obstore; uploading with boto3."
            )
    return Boto3Uploader(
        target.s3_client,
        target.bucket_name,
        concurrency=target.sync_options.upload_concurrency,
        transfer_config=target.transfer_config,
    )


def _obstore_uploader(target: UploadTarget) -> Uploader | None:
    from .obstore.engine import ObstoreUploader
    from .obstore.settings import store_settings

    if not target.bucket_name:
        return None  # the deploy reports the missing setting, as without obstore
    # The credentials of the storage's own client (keys, profile or the
    # default chain): obstore signs with the very same ones.
    credentials = target.session_credentials()
    if credentials is None:
        return None  # boto3 reports the missing credentials, as without obstore
    client = target.s3_client
    verify: Any = getattr(target, "verify", None)
    try:
        settings = store_settings(client, target.bucket_name, verify=verify)
    except NoCredentialsError:
        return None
    if settings is None:
        return None
    return ObstoreUploader(
        client,
        target.bucket_name,
        concurrency=target.sync_options.upload_concurrency,
        transfer_config=target.transfer_config,
        settings=settings,
        credentials=credentials,
    )
