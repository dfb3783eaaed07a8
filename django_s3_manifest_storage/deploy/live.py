"""What is live under a deploy's location, read while the run works locally:
the deployed manifest (one GET), a listing when the deploy needs one, and
what of the deployed release can be reused."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING

from ..planning.reuse import hashed_on_s3, reusable_paths, serves
from ..planning.stamp import DeployedState
from ..s3 import ListedObject, S3Location, fetch_object, in_background, list_objects
from .objects import ObjectSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("django_s3_manifest_storage")


class LiveState:
    """The deployed release under one location, as S3 holds it."""

    def __init__(
        self,
        client: S3Client,
        location: S3Location,
        manifest_name: str,
        objects: ObjectSettings,
        *,
        listing: bool,
    ) -> None:
        self.client = client
        self.location = location
        self.manifest_name = manifest_name
        self.objects = objects
        self._reuse: dict[int, tuple[dict[str, str] | None, str | None]] = {}
        manifest_key = location.key(manifest_name)
        self._manifest = in_background(
            lambda: fetch_object(client, location.bucket, manifest_key)
        )
        self._listing: Future[dict[str, ListedObject]] | None = (
            in_background(self.list_objects) if listing else None
        )

    def list_objects(self) -> dict[str, ListedObject]:
        return list_objects(self.client, self.location.bucket, self.location.prefix)

    def listing(self) -> dict[str, ListedObject]:
        """Every object under the location: the one listing, or a new one."""
        return self._listing.result() if self._listing else self.list_objects()

    def deployed(self) -> DeployedState:
        remote = self._manifest.result()
        if remote is None:
            return DeployedState.absent()
        deployed = DeployedState.parse(remote.body, remote.metadata)
        if deployed.problem:
            logger.warning(
                "The manifest at %s is unusable (%s); uploading the whole collection.",
                self.location.url_of(self.manifest_name),
                deployed.problem,
            )
        return deployed

    def remote_names(self) -> set[str] | None:
        """Every name S3 holds under the location, when a listing was made."""
        return None if self._listing is None else set(self._listing.result())

    def reuse(
        self, deployed: DeployedState, context: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, str | None]:
        """``(deployed paths whose files can be reused, None)``, or ``(None,
        why everything is uploaded again)``."""
        # Digesting every deployed name's parameters costs: once per state.
        cached = self._reuse.get(id(deployed))
        if cached is None:
            parameters = (
                None
                if deployed.paths is None
                else self.objects.digests(
                    deployed.collection_names(), deployed.hashed_names()
                )
            )
            cached = reusable_paths(deployed, context, parameters)
            self._reuse[id(deployed)] = cached
        return cached

    def serves(
        self, deployed: DeployedState, sources: str, context: Mapping[str, str]
    ) -> bool:
        """Whether S3 already serves what these sources would publish."""
        if deployed.paths is None or deployed.stamp.sources != sources:
            return False  # neither the parameters nor a listing are needed
        return serves(
            deployed, sources, self.reuse(deployed, context)[0], self.remote_names()
        )

    def on_s3_already(
        self, deployed: DeployedState, context: Mapping[str, str]
    ) -> set[str]:
        """Hashed names S3 serves now: never worth uploading early."""
        return hashed_on_s3(self.reuse(deployed, context)[0], self.remote_names())
