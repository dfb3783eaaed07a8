"""What one benchmark invocation measured, and the medians reported from it."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.assets import SiteRevision

OK = "ok"
FAILED = "failed"  # the command exited non-zero or timed out
INVALID = "invalid"  # it succeeded but the deployed files are wrong
NOT_RUN = "not run"  # an earlier scenario of the same bucket failed


@dataclass(frozen=True)
class Scenario:
    number: int
    title: str
    revision: SiteRevision


SCENARIOS: dict[int, Scenario] = {
    1: Scenario(1, "first deploy (empty bucket)", SiteRevision(stylesheet=0, image=0)),
    2: Scenario(2, "redeploy, nothing changed (fresh checkout)", SiteRevision(0, 0)),
    3: Scenario(3, "one CSS file changed", SiteRevision(stylesheet=1, image=0)),
    4: Scenario(
        4, "one image referenced by CSS changed", SiteRevision(stylesheet=1, image=1)
    ),
    5: Scenario(
        5,
        "one image referenced by 120 CSS files changed",
        SiteRevision(stylesheet=1, image=1, shared_image=1),
    ),
}


@dataclass
class RunRecord:
    asset_set: str
    scenario: int
    contender: str
    repeat: int
    status: str
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    max_rss_kb: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    bytes_uploaded: int = 0
    detail: str = ""
    # TCP connections the S3 server accepted during the deploy (None in
    # results made before they were counted).
    connections: int | None = None
    # CPU of the harness process, which hosts the S3 server, during the
    # deploy (None in results made before it was measured).
    server_cpu_seconds: float | None = None


@dataclass
class BenchmarkRun:
    """Parameters, environment and every run record of one invocation."""

    started: str
    note: str
    delay_ms: float
    repeats: int
    upload_concurrency: int
    asset_sets: list[str]
    contenders: list[str]
    scenarios: list[int]
    skipped: list[tuple[str, str]]
    machine: dict[str, str]
    versions: dict[str, str]
    set_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    records: list[RunRecord] = field(default_factory=list)
    # What served moto's S3: results saved before the choice existed were
    # all served by werkzeug, which closes every connection.
    s3_server: str = "werkzeug"

    def is_skipped(self, contender: str, asset_set: str) -> bool:
        return (contender, asset_set) in self.skipped

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> BenchmarkRun:
        data: dict[str, Any] = json.loads(path.read_text())
        data["records"] = [RunRecord(**record) for record in data["records"]]
        data["skipped"] = [tuple(pair) for pair in data["skipped"]]
        return cls(**data)


@dataclass(frozen=True)
class Summary:
    """Medians over the successful repeats of one set x scenario x contender."""

    runs: int
    failures: int
    wall_seconds: float
    cpu_seconds: float
    max_rss_kb: float
    requests: dict[str, float]
    bytes_uploaded: float
    first_problem: str
    # Client CPU per object uploaded (CPU seconds / PUTs), median over the
    # good runs that uploaded anything; None when none did.
    cpu_ms_per_object: float | None = None
    # Median TCP connections the server accepted; None when not counted.
    connections: float | None = None


def cpu_ms_per_object(record: RunRecord) -> float | None:
    """Milliseconds of client CPU per PUT the server saw during the deploy."""
    puts = record.requests.get("PUT", 0)
    if puts <= 0:
        return None
    return record.cpu_seconds * 1000 / puts


def summarize(records: list[RunRecord]) -> Summary | None:
    if not records:
        return None
    good = [record for record in records if record.status == OK]
    bad = [record for record in records if record.status != OK]
    problem = f"{bad[0].status}: {bad[0].detail}" if bad else ""
    if not good:
        return Summary(0, len(bad), 0.0, 0.0, 0.0, {}, 0.0, problem)
    kinds = sorted({kind for record in good for kind in record.requests})
    per_object = [value for value in map(cpu_ms_per_object, good) if value is not None]
    connections = [r.connections for r in good if r.connections is not None]
    return Summary(
        runs=len(good),
        failures=len(bad),
        wall_seconds=statistics.median(r.wall_seconds for r in good),
        cpu_seconds=statistics.median(r.cpu_seconds for r in good),
        max_rss_kb=statistics.median(r.max_rss_kb for r in good),
        requests={
            k: statistics.median(r.requests.get(k, 0) for r in good) for k in kinds
        },
        bytes_uploaded=statistics.median(r.bytes_uploaded for r in good),
        first_problem=problem,
        cpu_ms_per_object=statistics.median(per_object) if per_object else None,
        connections=statistics.median(connections) if connections else None,
    )
