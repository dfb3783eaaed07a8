"""Run one deploy command as a subprocess and measure what it cost.

The command runs under benchmarks.launch, which reports os.wait4's resource
usage of it. On Linux that includes the children the command waited for: CPU
time is user + system of the whole process tree, and max RSS is that of the
largest process in it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.contenders import ACCESS_KEY, REGION, SECRET_KEY, DeployCommand

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_NAME = "django_s3_manifest_storage"


@dataclass(frozen=True)
class ProcessCost:
    wall_seconds: float
    cpu_seconds: float
    max_rss_kb: int
    exit_code: int
    timed_out: bool

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def isolated_environment(
    endpoint_url: str, aws_config_file: Path, home: Path, code_dir: Path
) -> dict[str, str]:
    """A minimal environment that can only reach the local S3 server.

    Dummy credentials, no instance metadata lookups, no real AWS config files,
    the endpoint forced for any client that does not take it as an option,
    and loopback exempt from any proxy. ``code_dir`` holds the snapshot of
    the package under test, ahead of the checkout (which has the harness).
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONPATH": os.pathsep.join([str(code_dir), str(REPO_ROOT)]),
        "PYTHONHASHSEED": "0",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(aws_config_file),
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ENDPOINT_URL_S3": endpoint_url,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    if "VIRTUAL_ENV" in os.environ:
        env["VIRTUAL_ENV"] = os.environ["VIRTUAL_ENV"]
    return env


def snapshot_package(destination: Path) -> Path:
    """Copy the package under test, so edits to the tree during a long run
    cannot mix versions between repeats; returns the directory for PYTHONPATH."""
    destination.mkdir(parents=True)
    shutil.copytree(
        REPO_ROOT / PACKAGE_NAME,
        destination / PACKAGE_NAME,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return destination


def write_aws_cli_config(path: Path, max_concurrent_requests: int) -> None:
    # The CLI's transfer concurrency (default 10) set to the same thread
    # count as the other uploading contenders.
    path.write_text(
        "[default]\n"
        f"region = {REGION}\n"
        "s3 =\n"
        f"  max_concurrent_requests = {max_concurrent_requests}\n"
        "  addressing_style = path\n"
    )


def run_measured(
    command: DeployCommand,
    base_env: dict[str, str],
    cwd: Path,
    log_dir: Path,
    timeout_seconds: float,
) -> ProcessCost:
    env = {**base_env, **command.env}
    slug = command.label.replace(" ", "-")
    report_path = log_dir / f"{slug}.usage.json"
    argv = [sys.executable, "-m", "benchmarks.launch", str(report_path), *command.argv]
    with (
        open(log_dir / f"{slug}.stdout", "wb") as stdout,
        open(log_dir / f"{slug}.stderr", "wb") as stderr,
    ):
        started = time.perf_counter()
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        timed_out = threading.Event()

        def kill_on_timeout() -> None:
            timed_out.set()
            # The whole session: the launcher, the command and its children.
            os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout_seconds, kill_on_timeout)
        timer.start()
        try:
            exit_code = process.wait()
        finally:
            timer.cancel()
        outer_wall = time.perf_counter() - started
    if timed_out.is_set() or not report_path.exists():
        return ProcessCost(outer_wall, 0.0, 0, exit_code, timed_out.is_set())
    usage = json.loads(report_path.read_text())
    return ProcessCost(
        wall_seconds=usage["wall_seconds"],
        cpu_seconds=usage["cpu_seconds"],
        max_rss_kb=usage["max_rss_kb"],
        exit_code=usage["exit_code"],
        timed_out=False,
    )


def combine(costs: list[ProcessCost]) -> ProcessCost:
    """Steps run one after another: times add up, memory is the largest step's."""
    return ProcessCost(
        wall_seconds=sum(cost.wall_seconds for cost in costs),
        cpu_seconds=sum(cost.cpu_seconds for cost in costs),
        max_rss_kb=max(cost.max_rss_kb for cost in costs),
        exit_code=next((cost.exit_code for cost in costs if cost.exit_code), 0),
        timed_out=any(cost.timed_out for cost in costs),
    )
