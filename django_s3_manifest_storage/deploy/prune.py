"""Deleting what no kept release references, once the new manifest is live:
``--clear`` and ``keep_releases``. The choice is pure (``planning/delta.py``); this
module reads the kept releases' manifests and sends the deletes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING

from ..console import CommandOptions
from ..options import DeployPolicy
from ..planning.delta import plan_deletions
from ..planning.manifest import InvalidManifest, parse_manifest_paths
from ..releases.history import kept_release_names
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
    ) -> tuple[str, ...]:
        """Names to delete once ``live_paths`` is the live manifest."""
        present = self.remote_names()
        if not self.policy.deletes or present is None:
            return ()
        if publishing_history is not None:
            present = present | {publishing_history}
        kept = kept_release_names(
            present,
            self.manifest_name,
            self.policy.keep_releases,
            clear=self.policy.clear,
        )
        if kept is None:
            return ()
        kept_releases: list[Mapping[str, str]] = [live_paths]
        for name in kept:
            if name == publishing_history:
                continue
            paths = self._release_paths(name)
            if paths is None:
                # A kept release we cannot read: its files are unknown.
                logger.warning(
                    "Cannot read %s; nothing pruned.", self.location.url_of(name)
                )
                return ()
            kept_releases.append(paths)
        return plan_deletions(
            present=present,
            kept_releases=kept_releases,
            protected={*self.protected, *kept},
        )

    def _release_paths(self, history: str) -> Mapping[str, str] | None:
        copy = fetch_object(
            self.client, self.location.bucket, self.location.key(history)
        )
        if copy is None:
            return None
        try:
            return parse_manifest_paths(copy.body)
        except InvalidManifest:
            return None

    def delete_stale(
        self, live_paths: Mapping[str, str], history: str | None = None
    ) -> tuple[str, ...]:
        """Delete what no kept release references; the live one is never touched."""
        stale = self.stale_names(live_paths, publishing_history=history)
        if not stale:
            return ()
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
        return tuple(name for name in stale if location.key(name) not in failed_keys)
