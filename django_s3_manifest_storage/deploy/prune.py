"""Deleting what releases published and no kept release needs, once the new
manifest is live: ``keep_releases``; and everything but the live release
for ``--clear``. Objects no release published (a compressor's output, files
saved at run time, a ``robots.txt``) are left alone, and counted.

The choice is pure (``planning/delta.py``); this module reads the releases'
manifests and sends the deletes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING

from ..console import CommandOptions
from ..options import DeployPolicy
from ..planning.delta import Deletions, plan_retention
from ..planning.stamp import DeployedState
from ..releases.history import kept_release_names, kept_releases
from ..s3 import S3Location, delete_keys, fetch_object

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("django_s3_manifest_storage")


class Pruning:
    """The deletions of one deploy under one bucket prefix."""

    def __init__(
        self,
        *,
        client: S3Client,
        location: S3Location,
        manifest_name: str,
        protected: Collection[str],
        policy: DeployPolicy,
        remote_names: Callable[[], set[str] | None],
        command: CommandOptions,
    ) -> None:
        self.client = client
        self.location = location
        self.manifest_name = manifest_name
        self.protected = set(protected)
        self.policy = policy
        self.remote_names = remote_names
        self.command = command

    def stale_names(
        self, live_paths: Mapping[str, str], *, publishing_history: str | None = None
    ) -> Deletions:
        """What to delete once ``live_paths`` is the live manifest: what
        releases published and no kept release needs (``--clear``: all but
        the live release)."""
        present = self.remote_names()
        if not self.policy.deletes or present is None:
            return Deletions()
        if publishing_history is not None:
            present = present | {publishing_history}
        kept = kept_release_names(
            present,
            self.manifest_name,
            self.policy.keep_releases,
            clear=self.policy.clear,
        )
        if kept is None:
            return Deletions()
        kept_paths: list[Mapping[str, str]] = [live_paths]
        for name in kept:
            if name == publishing_history:
                continue
            release = self._release(name)
            if release is None:
                # A kept release we cannot read: its files are unknown.
                logger.warning(
                    "Cannot read %s; nothing pruned.", self.location.url_of(name)
                )
                return Deletions()
            kept_paths.append(release.paths or {})
        protected = {*self.protected, *kept}
        published = None if self.policy.clear else self._published(present, kept)
        return plan_retention(
            present=present,
            kept_releases=kept_paths,
            protected=protected,
            published=published,
        )

    def _published(self, present: Collection[str], kept: Collection[str]) -> set[str]:
        """What the releases past the kept ones published: their history
        copies, and the names they put on S3. A copy that cannot be read
        publishes nothing: its objects are left alone."""
        published: set[str] = set()
        for release in kept_releases(present, self.manifest_name):
            if release.history in kept:
                continue
            published.add(release.history)
            deployed = self._release(release.history)
            if deployed is not None:
                published.update(deployed.published_names())
        return published

    def _release(self, history: str) -> DeployedState | None:
        copy = fetch_object(
            self.client, self.location.bucket, self.location.key(history)
        )
        if copy is None:
            return None
        release = DeployedState.parse(copy.body, copy.metadata)
        return None if release.paths is None else release

    def delete_stale(
        self, live_paths: Mapping[str, str], history: str | None = None
    ) -> Deletions:
        """Delete what no kept release needs; the live one is never touched."""
        planned = self.stale_names(live_paths, publishing_history=history)
        stale = planned.stale
        if not stale:
            return planned
        location = self.location
        failures = delete_keys(
            self.client, location.bucket, [location.key(name) for name in stale]
        )
        if failures:
            # The new release is live and complete: a failed delete leaves a
            # stale object behind, nothing broken. Say so, don't fail the deploy.
            message = (
                f"{len(failures)} stale object(s) in {location.url} could not be "
                "deleted; the next deploy will try again: "
                + "; ".join(
                    f"{failure.key}: {failure.reason}" for failure in failures[:5]
                )
            )
            logger.warning(message)
            self.command.write(f"Warning: {message}", level=0)
        failed_keys = {failure.key for failure in failures}
        return Deletions(
            tuple(name for name in stale if location.key(name) not in failed_keys),
            planned.left_alone,
        )
