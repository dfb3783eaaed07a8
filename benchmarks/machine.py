"""What the benchmark ran on, for the header of the results."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from benchmarks.measure import REPO_ROOT

REPORTED_DISTRIBUTIONS = (
    "django-s3-manifest-storage",
    "Django",
    "django-storages",
    "boto3",
    "botocore",
    "Collectfasta",
    "awscli",
    "moto",
    "djangorestframework",
    "django-ckeditor",
    "django-jazzmin",
    "fontawesomefree",
)


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    meminfo = Path("/proc/meminfo")
    if not meminfo.exists():
        return None
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return None


def package_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in REPORTED_DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    # The package under test is imported from this checkout, so say which one.
    versions["django-s3-manifest-storage"] += f" (checkout {source_revision()})"
    return versions


def source_revision() -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def describe_machine() -> dict[str, str]:
    memory = memory_gib()
    return {
        "CPU": cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": f"{memory:.0f} GiB" if memory else "unknown",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
    }
