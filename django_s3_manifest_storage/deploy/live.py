"""What is live under a deploy's location, read while the run works locally:
the deployed manifest (one GET), a listing when the deploy needs one, what
of the deployed release can be reused and, when its files cannot all be
(a new context or new upload parameters), how its record says they are
stored (one more GET)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Set
from concurrent.futures import Future
from datetime import datetime
from io import BytesIO
from typing import TYPE_CHECKING

from ..planning.delta import PublishPlan, plan_publish
from ..planning.fingerprint import content_digest
from ..planning.record import (
    ReleaseRecord,
    StoredObjects,
    UnreadableRecord,
    record_name,
    record_text,
)
from ..planning.reuse import hashed_on_s3, reusable_paths, serves
from ..planning.stamp import DeployedState
from ..planning.stored import plan_from_record
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
        self._stored: dict[int, StoredObjects | None] = {}
        self._deployed: DeployedState | None = None
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
        """The deployed manifest, parsed once."""
        if self._deployed is None:
            self._deployed = self._parse()
        return self._deployed

    def _parse(self) -> DeployedState:
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

    def published(self) -> tuple[frozenset[str], datetime | None]:
        """The names the deployed release put on S3 (before compressed
        variants), and when its manifest was published: what S3 holds
        under those names is at least that recent for the release."""
        remote = self._manifest.result()
        names = frozenset(self.deployed().published_names())
        return names, None if remote is None else remote.last_modified

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
            parameters = None
            if deployed.paths is not None:
                hashed_names = deployed.hashed_names()
                parameters = self.objects.digests(
                    deployed.manifest_names(hashed_names), hashed_names
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

    def stored_objects(self, deployed: DeployedState) -> StoredObjects | None:
        """How the deployed release's objects are stored, as its record
        says; None without a record of version 2 or later (a release
        published by an older version or another tool), or when the record
        on S3 is not this manifest's."""
        if id(deployed) in self._stored:
            return self._stored[id(deployed)]
        stored = None
        if deployed.paths is not None and deployed.stamp.record is not None:
            record = self.deployed_record(deployed.stamp.record)[0]
            stored = None if record is None else record.stored
        self._stored[id(deployed)] = stored
        return stored

    def deployed_record(self, digest: str) -> tuple[ReleaseRecord | None, str | None]:
        """The deployed release's record (one GET), or why there is none to
        read: missing, another release's (its ``digest`` differs), or
        unreadable."""
        name = record_name(self.manifest_name)
        url = self.location.url_of(name)
        remote = fetch_object(
            self.client, self.location.bucket, self.location.key(name)
        )
        if remote is None:
            return None, f"{url} is missing"
        body = remote.body
        del remote
        if content_digest(BytesIO(body)) != digest:
            return None, f"{url} belongs to another release"
        try:
            text = record_text(body)
            # The bytes go before the text is decoded, so the decoder holds
            # the text and the document it builds, not the bytes as well
            # (20 to 30 MB at 100,000 files).
            del body
            return ReleaseRecord.decode(text), None
        except UnreadableRecord as problem:
            return None, f"{url} is unreadable ({problem})"

    def publish_plan(
        self,
        deployed: DeployedState,
        context: Mapping[str, str],
        *,
        staged: Collection[str],
        local_paths: Mapping[str, str],
        hashed_names: Set[str],
        manifest_name: str,
        manifest_unchanged: bool,
        current: Callable[[], StoredObjects | None],
    ) -> tuple[PublishPlan, str | None]:
        """What makes S3 serve the local collection, and why everything is
        uploaded when it is. From the manifests when the deployed files can
        be reused; else, object by object, from the two releases' records
        (``current``: this release's, when it has one)."""
        reusable, reason = self.reuse(deployed, context)
        remote_names = self.remote_names()
        if reusable is None and deployed.paths is not None:
            stored = self.stored_objects(deployed)
            new = current() if stored is not None else None
            if stored is not None and new is not None:
                plan = plan_from_record(
                    staged=staged,
                    local_paths=local_paths,
                    deployed_paths=deployed.paths,
                    deployed=stored,
                    current=new,
                    manifest_name=manifest_name,
                    manifest_unchanged=manifest_unchanged,
                    remote_names=remote_names,
                    hashed_names=hashed_names,
                )
                return plan, None
        plan = plan_publish(
            staged=staged,
            local_paths=local_paths,
            remote_paths=reusable,
            manifest_name=manifest_name,
            manifest_unchanged=manifest_unchanged,
            remote_names=remote_names,
            hashed_names=hashed_names,
        )
        return plan, reason

    def on_s3_already(
        self, deployed: DeployedState, context: Mapping[str, str]
    ) -> set[str]:
        """Hashed names S3 serves now: never worth uploading early. When the
        deployed files cannot all be reused, those its record names are
        unchanged or updated in place (``planning/stored.py``)."""
        reusable = self.reuse(deployed, context)[0]
        stored = None if reusable is not None else self.stored_objects(deployed)
        if stored is not None:
            reusable = {
                name: hashed
                for name, hashed in (deployed.paths or {}).items()
                if stored.parameter_set(hashed) is not None
            }
        return hashed_on_s3(reusable, self.remote_names())
