"""What ``collectstatic --dry-run`` prints: the plan, nothing done."""

from __future__ import annotations

from dataclasses import dataclass

from .command import CommandOptions


@dataclass(frozen=True)
class DryRunReport:
    destination: str
    uploads: tuple[str, ...]
    upload_bytes: int
    unchanged: int
    deletions: tuple[str, ...]

    def write_to(self, command: CommandOptions) -> None:
        command.write(
            f"Dry run: {len(self.uploads)} file(s) ({self.upload_bytes:,} bytes) "
            f"would be uploaded to {self.destination}, {self.unchanged} unchanged."
        )
        for name in self.uploads:
            command.write(f"  would upload {name}", level=2)
        if self.deletions:
            command.write(
                f"Dry run: {len(self.deletions)} stale object(s) would be deleted."
            )
            for name in self.deletions:
                command.write(f"  would delete {name}", level=2)
