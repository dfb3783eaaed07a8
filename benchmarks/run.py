"""Benchmark static-file deploys to S3: ``python -m benchmarks.run --help``.

One S3 server (moto, 127.0.0.1, a fixed delay per request) is hosted by this
process; each contender deploys to its own fresh bucket from a subprocess, so
the server sees, and the harness measures, one deploy at a time.

Order: for each asset set and repeat, scenarios 1..5 run in turn, and within
a scenario every contender runs once (A B C D, A B C D, ...), so slow drift
of the machine spreads over all contenders instead of biasing one.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.assets import (
    ALL_SET_NAMES,
    SYNTHETIC_SETS,
    AssetSet,
    make_checkout,
    resolve_asset_set,
    summarize,
)
from benchmarks.contenders import (
    ACCESS_KEY,
    CONTENDERS,
    DEFAULT_CONTENDERS,
    REGION,
    SECRET_KEY,
    Contender,
    DeployTarget,
)
from benchmarks.machine import describe_machine, package_versions
from benchmarks.measure import (
    ProcessCost,
    combine,
    isolated_environment,
    run_measured,
    snapshot_package,
    write_aws_cli_config,
)
from benchmarks.report import CHART_NAME, write_report
from benchmarks.results import (
    FAILED,
    INVALID,
    NOT_RUN,
    OK,
    SCENARIOS,
    BenchmarkRun,
    RunRecord,
)
from benchmarks.s3_servers import SERVERS, start_server
from benchmarks.verification import BucketFiles, DirectoryFiles, verify_deploy
from django_s3_manifest_storage.testing.s3_server import LocalS3Server

BENCHMARKS_DIR = Path(__file__).resolve().parent
# Pairs where one deploy would take more than 20 minutes, skipped unless
# asked for (``--skip none``): stock S3ManifestStaticStorage makes several
# sequential requests per file, and Collectfasta's per-file work makes it too
# slow from 50k files on.
DEFAULT_SKIPS = ",".join(
    (
        "stock:large",
        "stock:synthetic-10k",
        "stock:synthetic-50k",
        "stock:synthetic-100k",
        "collectfasta:synthetic-50k",
        "collectfasta:synthetic-100k",
    )
)


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Compare ways of deploying Django static files to S3.",
    )
    parser.add_argument(
        "--sizes",
        default="all",
        help=f"comma-separated asset sets, or 'all': {', '.join(ALL_SET_NAMES)}",
    )
    parser.add_argument(
        "--contenders",
        default="all",
        help=f"comma-separated, or 'all' ({', '.join(DEFAULT_CONTENDERS)}); also: "
        + ", ".join(name for name in CONTENDERS if name not in DEFAULT_CONTENDERS),
    )
    parser.add_argument(
        "--scenarios",
        default="all",
        help="comma-separated scenario numbers 1-5, or 'all'; earlier scenarios a "
        "selected one depends on still run, unreported",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--delay-ms", type=float, default=20.0, help="added to every S3 request"
    )
    parser.add_argument(
        "--s3-server",
        choices=SERVERS,
        default="waitress",
        help="what serves moto's S3 to the deploys: waitress keeps connections "
        "alive, as S3 does; werkzeug (the tests' server, and the benchmark's "
        "before) closes each one after a request",
    )
    parser.add_argument(
        "--skip",
        default=DEFAULT_SKIPS,
        help="contender:set pairs not to run, comma-separated, or 'none' "
        f"(default: {DEFAULT_SKIPS})",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=16,
        help="upload threads for ours, Collectfasta and the aws CLI",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds per deploy"
    )
    parser.add_argument("--out", type=Path, default=BENCHMARKS_DIR / "RESULTS.md")
    parser.add_argument(
        "--chart", type=Path, default=None, help="PNG path (default: beside --out)"
    )
    parser.add_argument(
        "--note",
        default="",
        help="a line shown at the top of the results, e.g. 'smoke run'",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="scratch space (default: a temp dir)",
    )
    parser.add_argument(
        "--keep-work", action="store_true", help="keep each run's checkout and logs"
    )
    return parser.parse_args(argv)


def _choose(value: str, every: Sequence[str], kind: str) -> list[str]:
    chosen = list(every) if value == "all" else _split(value)
    for name in chosen:
        if name not in every and not (kind == "contender" and name in CONTENDERS):
            raise SystemExit(f"unknown {kind} {name!r}; choose from {', '.join(every)}")
    return chosen


def _parse_skips(value: str) -> list[tuple[str, str]]:
    if value.strip().lower() == "none":
        return []
    pairs: list[tuple[str, str]] = []
    for item in _split(value):
        contender, _, asset_set = item.partition(":")
        if contender not in CONTENDERS or asset_set not in ALL_SET_NAMES:
            raise SystemExit(f"--skip takes contender:set pairs, got {item!r}")
        pairs.append((contender, asset_set))
    return pairs


class Harness:
    def __init__(
        self, args: argparse.Namespace, run: BenchmarkRun, work_root: Path
    ) -> None:
        self.args = args
        self.run = run
        self.work_root = work_root
        self.measured = start_server(args.s3_server, delay_seconds=args.delay_ms / 1000)
        # The same in-process moto state behind a second port with no delay
        # and its own request log: bucket setup and checks use it, so they
        # neither slow down nor show up in the measured requests.
        self.inspector = LocalS3Server(delay_seconds=0).start()
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=self.inspector.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            # A listing of 200,000 objects is slow to render for moto.
            config=Config(s3={"addressing_style": "path"}, read_timeout=600),
        )
        self.home = work_root / "home"
        self.home.mkdir()
        aws_config = work_root / "aws-config"
        write_aws_cli_config(aws_config, args.concurrency)
        code_dir = snapshot_package(work_root / "code")
        self.base_env = isolated_environment(
            self.measured.endpoint_url, aws_config, self.home, code_dir
        )

    def close(self) -> None:
        self.measured.stop()
        self.inspector.stop()

    def reset_s3(self) -> None:
        """Drop every bucket, so moto's memory does not grow across sets and repeats."""
        request = urllib.request.Request(
            f"{self.inspector.endpoint_url}/moto-api/reset", method="POST"
        )
        with urllib.request.urlopen(request, timeout=60):
            pass

    def bucket_name(self, asset_set: str, repeat: int, contender: str) -> str:
        safe = "".join(c if c.isalnum() else "-" for c in contender.lower())
        return f"bench-{asset_set}-r{repeat + 1}-{safe}"[:63]

    def run_all(self) -> None:
        reported = set(self.run.scenarios)
        last_scenario = max(reported)
        contenders = [CONTENDERS[name] for name in self.run.contenders]
        for set_name in self.run.asset_sets:
            asset_set = resolve_asset_set(set_name, self.work_root / "synthetic")
            self._record_size(asset_set)
            active = [
                c for c in contenders if not self.run.is_skipped(c.name, set_name)
            ]
            for repeat in range(self.run.repeats):
                self.reset_s3()
                broken: dict[str, str] = {}
                for contender in active:
                    if contender.uploads:
                        self.client.create_bucket(
                            Bucket=self.bucket_name(set_name, repeat, contender.name)
                        )
                for number in range(1, last_scenario + 1):
                    for contender in active:
                        if contender.name in broken:
                            record = RunRecord(
                                set_name,
                                number,
                                contender.name,
                                repeat,
                                NOT_RUN,
                                detail=f"scenario {broken[contender.name]} of this bucket failed",
                            )
                        else:
                            record = self.deploy(asset_set, number, contender, repeat)
                            if record.status != OK:
                                broken[contender.name] = (
                                    f"{number} ({record.status}: {record.detail})"
                                )
                        self._progress(record)
                        if number in reported:
                            self.run.records.append(record)
                    self.save()

    def _record_size(self, asset_set: AssetSet) -> None:
        probe = self.work_root / "size-probe"
        dirs = make_checkout(asset_set, SCENARIOS[1].revision, probe)
        size = summarize(dirs)
        shutil.rmtree(probe)
        self.run.set_sizes[asset_set.name] = {"files": size.files, "bytes": size.bytes}

    def deploy(
        self, asset_set: AssetSet, number: int, contender: Contender, repeat: int
    ) -> RunRecord:
        scenario = SCENARIOS[number]
        run_dir = (
            self.work_root
            / f"{asset_set.name}-r{repeat + 1}-s{number}-{contender.name}"
        )
        staticfiles_dirs = make_checkout(
            asset_set, scenario.revision, run_dir / "checkout"
        )
        target = DeployTarget(
            bucket=self.bucket_name(asset_set.name, repeat, contender.name),
            endpoint_url=self.measured.endpoint_url,
            staticfiles_dirs=tuple(staticfiles_dirs),
            static_root=run_dir / "static_root",
            work_dir=run_dir,
            upload_concurrency=self.args.concurrency,
        )
        log_dir = run_dir / "logs"
        log_dir.mkdir()

        self.measured.clear_log()
        # This process hosts the S3 server: its CPU during the deploy is
        # the server's (the harness itself only waits).
        server_cpu_started = time.process_time()
        costs: list[ProcessCost] = []
        failure = ""
        for command in contender.build_commands(target):
            cost = run_measured(
                command, self.base_env, run_dir, log_dir, self.args.timeout
            )
            costs.append(cost)
            if not cost.ok:
                failure = self._describe_failure(command.label, cost, log_dir)
                break
        server_cpu = time.process_time() - server_cpu_started
        seen = self.measured.requests
        total = combine(costs)
        record = RunRecord(
            asset_set=asset_set.name,
            scenario=number,
            contender=contender.name,
            repeat=repeat,
            status=OK,
            wall_seconds=total.wall_seconds,
            cpu_seconds=total.cpu_seconds,
            max_rss_kb=total.max_rss_kb,
            requests=dict(self.measured.counts()),
            bytes_uploaded=sum(r.content_length for r in seen if r.method == "PUT"),
            connections=self.measured.connections,
            server_cpu_seconds=server_cpu,
        )
        if failure:
            record.status, record.detail = FAILED, failure
        elif contender.deploys:
            files = (
                BucketFiles(self.client, target.bucket)
                if contender.uploads
                else DirectoryFiles(target.static_root)
            )
            problems = verify_deploy(files, scenario.revision)
            if problems:
                record.status, record.detail = INVALID, "; ".join(problems)
        if not self.args.keep_work:
            if record.status == OK:
                shutil.rmtree(run_dir)
            else:
                # Keep only the logs of a bad run; the checkout is large.
                shutil.rmtree(run_dir / "checkout", ignore_errors=True)
                shutil.rmtree(target.static_root, ignore_errors=True)
        return record

    @staticmethod
    def _describe_failure(label: str, cost: ProcessCost, log_dir: Path) -> str:
        if cost.timed_out:
            return f"{label} timed out after {cost.wall_seconds:.1f} s"
        stderr = (log_dir / f"{label.replace(' ', '-')}.stderr").read_text(
            errors="replace"
        )
        tail = stderr.strip().splitlines()[-1:] or ["(no output)"]
        return f"{label} exited {cost.exit_code}: {tail[0]} (logs: {log_dir})"

    @staticmethod
    def _progress(record: RunRecord) -> None:
        requests = sum(record.requests.values())
        line = (
            f"[{record.asset_set} r{record.repeat + 1} s{record.scenario} {record.contender}] "
            f"{record.status} wall {record.wall_seconds:.2f}s cpu {record.cpu_seconds:.2f}s "
            f"requests {requests} put {record.bytes_uploaded / 1e6:.2f}MB"
        )
        if record.detail:
            line += f" -- {record.detail[:300]}"
        print(line, file=sys.stderr, flush=True)

    def save(self) -> None:
        out: Path = self.args.out
        self.run.save(out.with_suffix(".json"))
        write_report(self.run, out, self.args.chart or out.with_name(CHART_NAME))


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # One log line per S3 request would cost the harness CPU that the
    # measured deploy competes for.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # waitress warns when requests queue for a thread; the counts show it.
    logging.getLogger("waitress").setLevel(logging.ERROR)
    # The harness's own boto3 client talks only to the local server with
    # explicit dummy credentials; keep it off real AWS files and metadata too.
    os.environ.update(
        {
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    scenarios = sorted(
        int(n) for n in _choose(args.scenarios, [str(n) for n in SCENARIOS], "scenario")
    )
    run = BenchmarkRun(
        started=datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        note=args.note,
        delay_ms=args.delay_ms,
        s3_server=args.s3_server,
        repeats=args.repeats,
        upload_concurrency=args.concurrency,
        asset_sets=_choose(args.sizes, ALL_SET_NAMES, "asset set"),
        contenders=_choose(args.contenders, DEFAULT_CONTENDERS, "contender"),
        scenarios=scenarios,
        skipped=_parse_skips(args.skip),
        machine=describe_machine(),
        versions=package_versions(),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    work_parent = args.work_dir
    if work_parent is not None:
        work_parent.mkdir(parents=True, exist_ok=True)
    work_root = Path(tempfile.mkdtemp(prefix="s3-manifest-bench-", dir=work_parent))
    harness = Harness(args, run, work_root)
    try:
        harness.run_all()
    finally:
        harness.close()
        harness.save()
        if not args.keep_work and not any(
            r.status in (FAILED, INVALID) for r in run.records
        ):
            shutil.rmtree(work_root, ignore_errors=True)
        else:
            print(f"work files kept in {work_root}", file=sys.stderr)
    print(
        f"done in {time.perf_counter() - started:.0f} s: {args.out} "
        f"({len(run.records)} runs; synthetic sets: "
        f"{', '.join(s for s in run.asset_sets if s in SYNTHETIC_SETS) or 'none'})",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
