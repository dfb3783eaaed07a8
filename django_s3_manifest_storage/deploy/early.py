"""Uploads that start while Django is still hashing."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from django.contrib.staticfiles.utils import matches_patterns

from ..planning.names import variant_base
from ..upload.background import BackgroundUploads
from ..upload.uploader import raise_for_failures
from .objects import StagedFiles
from .resume import ResumeRecord

if TYPE_CHECKING:
    from .deployment import Deployment


class EarlyUploads:
    """Hashed files uploaded as soon as Django yields their final name.

    Files matching none of the hashing storage's ``patterns`` (images,
    fonts...) are hashed once and never rewritten, so their hashed name is
    final when first yielded; CSS and JS may be rewritten in later passes and
    wait for the waves. Compressed variants (whitenoise) wait too: the waves
    decide whether each follows a hashed or an unhashed file.
    """

    def __init__(
        self,
        deployment: Deployment,
        staging: StagedFiles,
        on_s3: Collection[str],
        resume: ResumeRecord,
        rewritable: list[str],
    ) -> None:
        self.deployment = deployment
        self.staging = staging
        self.on_s3 = on_s3
        self.resume = resume
        self.rewritable = rewritable
        self.uploads = BackgroundUploads(deployment.uploader)
        self.offered: set[str] = set()

    def offer(self, original_name: str, processed_name: str | None) -> None:
        if (
            not processed_name
            or processed_name == original_name
            or variant_base(processed_name) == original_name
            or matches_patterns(original_name, self.rewritable)
            or processed_name in self.on_s3
            or processed_name in self.offered  # in an earlier pass
        ):
            return
        self.offered.add(processed_name)
        if self.resume.is_stored(processed_name, True):
            return
        self.uploads.submit(
            self.deployment.objects.upload(self.staging, processed_name, hashed=True)
        )

    def finish(self) -> dict[str, int]:
        """Wait for the uploads: ``{name: bytes}`` of those stored. Failures a
        retry may cure are left to the waves; any other fails the deploy."""
        sent, failures = self.uploads.finish()
        self._note(sent)
        self.offered = set()  # hashing is done: nothing more is offered
        raise_for_failures(
            self.deployment.location.bucket,
            [failure for failure in failures if not failure.retryable],
        )
        return sent

    def cancel(self) -> None:
        """Stop what has not started; record what was stored."""
        self._note(self.uploads.cancel())

    def _note(self, sent: Mapping[str, int]) -> None:
        for name in sent:
            self.resume.note_stored(name, True)
