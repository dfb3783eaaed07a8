"""What a run tells the person running ``collectstatic``: the summary of a
deploy, or the plan of a dry run."""

from __future__ import annotations

from dataclasses import dataclass, field

from .command import CommandOptions


@dataclass(frozen=True)
class PublishReport:
    destination: str
    uploaded: tuple[str, ...]
    """Every object this run stored: the count equals the PUTs S3 saw (one
    per object, or one multipart upload)."""
    uploaded_bytes: int
    unchanged: int
    seconds: float
    deleted: tuple[str, ...] = ()
    reused_deployed: bool = False
    resumed: int = 0
    """Objects a failed run had stored, not sent again (among ``unchanged``)."""
    full_upload_reason: str | None = None
    """Why every file was uploaded, when the deployed ones could not be reused."""
    hashing: Hashing | None = None
    """Which hashing pass ran (None: hashing was skipped)."""

    def summary(self) -> str:
        how = " (no source changed: hashing skipped)" if self.reused_deployed else ""
        deleted = f", {len(self.deleted)} deleted" if self.deleted else ""
        resumed = (
            f" ({self.resumed} stored by the previous, failed run)"
            if self.resumed
            else ""
        )
        why = (
            f" Everything was uploaded: {self.full_upload_reason}."
            if self.full_upload_reason
            else ""
        )
        hashing = f" {self.hashing.summary()}" if self.hashing else ""
        return (
            f"Published to {self.destination}: {len(self.uploaded)} file(s) "
            f"uploaded ({self.uploaded_bytes:,} bytes), {self.unchanged} "
            f"unchanged{resumed}{deleted}, in {self.seconds:.1f}s{how}.{why}"
            f"{hashing}"
        )


@dataclass(frozen=True)
class Hashing:
    """Which hashing pass a run made, and on how many of its sources."""

    hashed: int
    sources: int
    incremental: bool
    full_reason: str | None = None
    """Why a full pass ran when incremental hashing is on."""
    hashed_names: tuple[str, ...] = field(default=(), repr=False)
    """The sources hashed."""

    def summary(self) -> str:
        if self.incremental:
            return (
                f"Hashing: incremental, {self.hashed} of {self.sources} file(s) hashed."
            )
        why = f" ({self.full_reason})" if self.full_reason else ""
        return f"Hashing: full, {self.sources} file(s) hashed{why}."


@dataclass(frozen=True)
class DryRunReport:
    destination: str
    uploads: tuple[str, ...]
    upload_bytes: int
    unchanged: int
    deletions: tuple[str, ...]
    full_upload_reason: str | None = None

    def write_to(self, command: CommandOptions) -> None:
        why = (
            f" Everything would be uploaded: {self.full_upload_reason}."
            if self.full_upload_reason
            else ""
        )
        command.write(
            f"Dry run: {len(self.uploads)} file(s) ({self.upload_bytes:,} bytes) "
            f"would be uploaded to {self.destination}, {self.unchanged} unchanged."
            + why
        )
        for name in self.uploads:
            command.write(f"  would upload {name}", level=2)
        if self.deletions:
            command.write(
                f"Dry run: {len(self.deletions)} stale object(s) would be deleted."
            )
            for name in self.deletions:
                command.write(f"  would delete {name}", level=2)
