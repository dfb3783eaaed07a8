"""What one publish has done, object by object, as the server saw it: the
uploads (and their bytes), the in-place updates of upload parameters, the
progress the person watches, and the resume record a failed run leaves."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from ..console import CommandOptions, upload_progress
from ..planning.names import is_hashed
from ..upload.uploader import Upload
from .resume import ResumeRecord

Waves = Sequence[tuple[Sequence[str], Sequence[str]]]
"""``(uploads, in-place updates)`` of each wave, as this run sends them."""


class Tally:
    """Counts each object once, when S3 has stored it."""

    def __init__(
        self,
        command: CommandOptions,
        *,
        sent_early: Mapping[str, int],
        waves: Waves,
        size_of: Callable[[str], int],
        companions: Mapping[str, int],
        manifest: str | None,
        hashed_names: Collection[str],
        resume: ResumeRecord,
    ) -> None:
        self.sent_early = sent_early
        self.sent: dict[str, int] = {}
        self.updated: list[str] = []
        self.resume = resume
        # The resume record notes the collection's files, not the manifest
        # and what goes with it (they are sent last, every run).
        self.unrecorded = {*companions, manifest}
        self.hashed_names = hashed_names
        # The progress counts every object this run sends or updates (an
        # update sends no bytes): those sent while hashing are done already.
        self.progress = upload_progress(
            command,
            len(sent_early)
            + sum(len(uploads) + len(updates) for uploads, updates in waves)
            + len(companions),
            sum(sent_early.values())
            + sum(size_of(name) for uploads, _updates in waves for name in uploads)
            + sum(companions.values()),
        )
        for size in sent_early.values():
            self.progress.advance(size)

    def count(self, upload: Upload, size: int) -> None:
        """``upload`` was made as given (an update the server refused was
        sent as an upload instead: ``Uploader.send_one``)."""
        if upload.in_place:
            self.updated.append(upload.name)
        else:
            self.sent[upload.name] = size
            if upload.name not in self.unrecorded:
                hashed = is_hashed(upload.name, self.hashed_names)
                self.resume.note_stored(upload.name, hashed)
        self.progress.advance(size)

    @property
    def uploaded(self) -> tuple[str, ...]:
        """The names uploaded, those sent while hashing first."""
        return (*self.sent_early, *self.sent)

    @property
    def uploaded_bytes(self) -> int:
        return sum(self.sent_early.values()) + sum(self.sent.values())

    def close(self) -> None:
        self.progress.close()
