"""Carrying out a deploy's plan: the upload waves, in order.

Hashed files first, then unhashed originals, then the manifest, each wave
once the previous one is stored; just before the manifest, its history copy
(with retention) and the release's record (incremental hashing). Objects
sent while hashing went on, and those a failed run stored, are not sent
again. After the manifest, what no kept release needs is deleted.
"""

from __future__ import annotations

import datetime
import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from .plan import DeployPlan, history_name, is_hashed
from .progress import upload_progress
from .publish import Upload, raise_for_failures
from .reports import PublishReport

if TYPE_CHECKING:
    from .deploy import Deployment
    from .staging import Staging


def publish_plan(
    deployment: Deployment,
    staging: Staging,
    plan: DeployPlan,
    sent_early: Mapping[str, int],
) -> PublishReport:
    """Carry out the plan; ``sent_early`` were uploaded during hashing."""
    objects = deployment.objects
    resume = deployment.start_resume()
    hashed_names = set(plan.local_paths.values())
    entries = {
        name: objects.resume_entry(staging, name, is_hashed(name, hashed_names))
        for name in plan.upload_names
        if name != plan.publish.manifest and name not in sent_early
    }
    resumed = {name for name, entry in entries.items() if resume.is_stored(name, entry)}
    waves = [
        [name for name in wave if name not in sent_early and name not in resumed]
        for wave in plan.publish.waves
    ]
    history = history_copy(deployment, plan)
    uploaded = dict(sent_early)
    # The progress counts every object this run sends: those sent while
    # hashing went on are done already; a history copy and the record of
    # sources (incremental hashing) are one more each.
    manifest = plan.publish.manifest
    history_size = plan.sizes[manifest] if history and manifest else 0
    sidecar_size = plan.sizes[plan.sidecar] if plan.sidecar else 0
    progress = upload_progress(
        deployment.command,
        len(sent_early)
        + sum(len(wave) for wave in waves)
        + bool(history)
        + bool(plan.sidecar),
        sum(sent_early.values())
        + sum(plan.sizes[name] for wave in waves for name in wave)
        + history_size
        + sidecar_size,
    )
    for size in sent_early.values():
        progress.advance(size)

    def count(upload: Upload, size: int) -> None:
        uploaded[upload.name] = size
        if upload.name in entries:
            resume.note_stored(upload.name, entries[upload.name])
        progress.advance(size)

    try:
        for wave in waves:
            if not wave:
                continue
            # Made as they go: a wave of 100,000 names holds only the
            # uploads in flight.
            uploads: Iterable[Upload] = (
                objects.upload(staging, name, is_hashed(name, hashed_names))
                for name in wave
            )
            if manifest is not None and wave == [manifest]:
                live = _with_metadata(
                    objects.upload(
                        staging, manifest, is_hashed(manifest, hashed_names)
                    ),
                    plan.stamp.metadata(),
                )
                uploads = [live]
                if history is not None:
                    # The copy goes first: pruning keeps only the releases
                    # it has copies of, so the live one must have one.
                    copy = _renamed(live, history, deployment.prefix)
                    _upload(deployment, [copy])
                    # An object S3 received: the summary counts it too.
                    uploaded[history] = history_size
                    progress.advance(history_size)
                if plan.sidecar is not None:
                    sidecar = objects.upload(staging, plan.sidecar, hashed=False)
                    _upload(deployment, [sidecar])
                    uploaded[plan.sidecar] = sidecar_size
                    progress.advance(sidecar_size)
            _upload(deployment, uploads, count)
    finally:
        progress.close()
    resume.discard()
    deleted = deployment.pruning.delete_stale(plan.local_paths, history)
    return PublishReport(
        destination=deployment.url,
        uploaded=tuple(uploaded),
        uploaded_bytes=sum(uploaded.values()),
        unchanged=plan.publish.unchanged + len(resumed),
        seconds=time.monotonic() - deployment.started,
        deleted=deleted,
        resumed=len(resumed),
        full_upload_reason=plan.full_upload_reason,
    )


def history_copy(deployment: Deployment, plan: DeployPlan) -> str | None:
    """The name of the manifest's copy kept for rollbacks, when releases are
    kept and the manifest is sent."""
    if plan.publish.manifest and deployment.policy.keep_releases is not None:
        return _history_name(deployment.manifest_name, plan.local_manifest)
    return None


def sent_with_the_manifest(deployment: Deployment, plan: DeployPlan) -> dict[str, int]:
    """``{name: bytes}`` of what a publish sends besides the plan's waves:
    the history copy and the record of sources; a dry run counts them too."""
    extra: dict[str, int] = {}
    history = history_copy(deployment, plan)
    if history is not None and plan.publish.manifest:
        extra[history] = plan.sizes[plan.publish.manifest]
    if plan.sidecar is not None:
        extra[plan.sidecar] = plan.sizes[plan.sidecar]
    return extra


def _upload(
    deployment: Deployment,
    uploads: Iterable[Upload],
    on_uploaded: Callable[[Upload, int], None] = lambda upload, size: None,
) -> None:
    raise_for_failures(
        deployment.bucket,
        deployment.uploader.upload_wave(
            uploads, on_uploaded, retry_delays=deployment.policy.retry_delays
        ),
    )


def _history_name(manifest_name: str, manifest: bytes) -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    digest = hashlib.sha256(manifest).hexdigest()
    return history_name(manifest_name, now.strftime("%Y%m%dT%H%M%S%fZ"), digest)


def _with_metadata(upload: Upload, metadata: dict[str, str]) -> Upload:
    parameters = dict(upload.parameters)
    parameters["Metadata"] = {**parameters.get("Metadata", {}), **metadata}
    return Upload(upload.name, upload.path, upload.key, parameters, upload.gzip)


def _renamed(upload: Upload, name: str, prefix: str) -> Upload:
    return Upload(name, upload.path, prefix + name, upload.parameters, upload.gzip)
