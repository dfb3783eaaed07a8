"""Test matrix, lint, type checks, the demo and the benchmark.

Run through ``python3 dev.py ...`` (see README), or ``nox`` directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests", "tests_s3_compatible"]
nox.options.error_on_missing_interpreters = True

# Django 5.2 supports Python 3.10+; 6.0 and 6.1 need 3.12+.
MATRIX = [
    *(
        nox.param(python, "5.2", id=f"{python}-django5.2")
        for python in ("3.10", "3.11", "3.12", "3.13")
    ),
    *(
        nox.param(python, "6.0", id=f"{python}-django6.0")
        for python in ("3.12", "3.13")
    ),
    *(
        nox.param(python, "6.1", id=f"{python}-django6.1")
        for python in ("3.12", "3.13")
    ),
]
TEST_REQUIREMENTS = ("pytest>=8", "pytest-django>=4.9", "pytest-xdist>=3.5", "brotli")
# One worker per core, each with its own S3 server; ``-- -n 0`` runs serially.
PARALLEL = ("-n", "auto")


@nox.session
@nox.parametrize(("python", "django"), MATRIX)
def tests(session: nox.Session, django: str) -> None:
    session.install(
        f"django~={django}.0", "-e", ".[testing,whitenoise]", *TEST_REQUIREMENTS
    )
    session.run("python", "-m", "pytest", *PARALLEL, *session.posargs)


@nox.session(python="3.12")
def tests_s3_compatible(session: nox.Session) -> None:
    """The suite with the client settings S3-compatible stores need (see
    docs/s3-compatible.md): path-style addressing, checksums only when
    required. Add S3_TEST_ENDPOINT_URL etc. to run it against MinIO or R2."""
    session.install("-e", ".[testing,whitenoise]", *TEST_REQUIREMENTS)
    session.run(
        "python",
        "-m",
        "pytest",
        *PARALLEL,
        *session.posargs,
        env={
            "S3_TEST_ADDRESSING_STYLE": "path",
            "S3_TEST_CHECKSUM_CALCULATION": "when_required",
        },
    )


@nox.session(python="3.12")
def tests_ceph(session: nox.Session) -> None:
    """The suite against a throwaway Ceph RADOS Gateway on 127.0.0.1, a real
    S3 implementation that checks signatures (see docs/s3-compatible.md).
    Needs the Debian packages radosgw, ceph-mon and ceph-osd:
    scripts/install-ceph.sh installs them (as root)."""
    session.install("-e", ".[testing,whitenoise]", *TEST_REQUIREMENTS)
    session.run(
        "python",
        "scripts/ceph_rgw.py",
        "run",
        "--",
        "python",
        "-m",
        "pytest",
        *session.posargs,
    )


@nox.session(python="3.12")
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.12")
def typecheck(session: nox.Session) -> None:
    session.install(
        "-e",
        ".[testing,whitenoise]",
        "mypy",
        "django-stubs",
        "boto3-stubs[s3]",
        "pytest",
        "pytest-django",
    )
    session.run("mypy")


@nox.session(python="3.12")
def demo(session: nox.Session) -> None:
    session.install("-e", ".[testing,whitenoise]")
    session.run("python", "example_project/demo.py", *session.posargs)


@nox.session(python="3.12")
def bench(session: nox.Session) -> None:
    """The side-by-side benchmark (see benchmarks/README.md); arguments after
    ``--`` go to ``python -m benchmarks.run``."""
    session.install(
        "-e",
        ".[testing]",
        "collectfasta",
        "awscli",
        "djangorestframework",
        "django-ckeditor",
        "django-jazzmin",
        "fontawesomefree",
        "matplotlib",
    )
    session.run("python", "-m", "benchmarks.run", *session.posargs)


@nox.session(python="3.12")
@nox.parametrize(
    "django", ["5.2", "6.0", "6.1"], ids=["django5.2", "django6.0", "django6.1"]
)
def peer(session: nox.Session, django: str) -> None:
    """Django's staticfiles test_storage.py and django-storages' test_s3.py
    with ManifestSyncS3Storage substituted (see peer/README.md). Downloads
    the latest sdists of Django ``~={django}.0`` and django-storages 1.14.x,
    so it is not a default session. Arguments after ``--`` go to
    ``python -m peer run`` (``--suite``, ``--mode``, ``-k``)."""
    work = Path(session.create_tmp()).resolve()
    session.install("pip")
    session.run(
        "python",
        "-m",
        "peer",
        "fetch",
        "--work",
        str(work),
        "--django",
        f"~={django}.0",
        "--storages",
        "~=1.14.0",
    )
    fetched = json.loads((work / "fetched.json").read_text())
    # The code under test is the release the tests come from.
    session.install(
        f"django=={fetched['django']['version']}",
        f"django-storages[s3]=={fetched['storages']['version']}",
        ".[testing]",
        # What django-storages' own test run installs for test_s3.py.
        "cryptography",
        "rsa",
    )
    session.run("python", "-m", "peer", "run", "--work", str(work), *session.posargs)
