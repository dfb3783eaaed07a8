"""Download the Django and django-storages sdists and extract the test files
the peer suites run. Standard library only: it runs before Django is
installed, so that the session can install exactly the versions fetched.

The files are extracted as published; nothing here edits them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from dataclasses import asdict, dataclass
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

# What test_storage.py imports (cases, settings), names in STORAGES
# (storage) or INSTALLED_APPS (apps), and reads from disk (project).
DJANGO_FILES = (
    "tests/staticfiles_tests/__init__.py",
    "tests/staticfiles_tests/test_storage.py",
    "tests/staticfiles_tests/cases.py",
    "tests/staticfiles_tests/settings.py",
    "tests/staticfiles_tests/storage.py",
    "tests/staticfiles_tests/apps/",
    "tests/staticfiles_tests/project/",
)
STORAGES_FILES = (
    "tests/__init__.py",
    "tests/settings.py",
    "tests/utils.py",
    "tests/test_s3.py",
)


@dataclass(frozen=True)
class FetchedSuite:
    """One sdist's test files, extracted under ``root``."""

    distribution: str
    version: str
    sdist: str
    # The directory to put first on sys.path: it holds the test packages
    # (``staticfiles_tests`` for Django, ``tests`` for django-storages).
    import_path: str


def download_sdist(requirement: str, destination: Path) -> Path:
    """The sdist pip picks for ``requirement`` (always asks the index, so a
    new release is picked up)."""
    destination.mkdir(parents=True, exist_ok=True)
    before = set(destination.iterdir())
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--dest",
            str(destination),
            requirement,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    new = set(destination.iterdir()) - before
    if new:
        (sdist,) = new
        return sdist
    # Already downloaded: pip names the file it kept.
    for line in output.splitlines():
        if "already downloaded" in line.lower() or line.startswith("Saved "):
            return Path(line.split()[-1]).resolve()
    raise RuntimeError(f"pip download {requirement!r} saved no file:\n{output}")


def sdist_metadata(sdist: Path) -> tuple[str, str, str]:
    """(name, version, top directory) from the sdist's PKG-INFO."""
    with tarfile.open(sdist) as archive:
        info = next(
            member
            for member in archive.getmembers()
            if PurePosixPath(member.name).parts[1:] == ("PKG-INFO",)
        )
        extracted = archive.extractfile(info)
        assert extracted is not None
        headers = HeaderParser().parsestr(extracted.read().decode("utf-8"))
    top = PurePosixPath(info.name).parts[0]
    return headers["Name"], headers["Version"], top


def extract(sdist: Path, wanted: tuple[str, ...], root: Path) -> Path:
    """Extract the ``wanted`` files and directories (paths relative to the
    sdist's top directory) into ``root``; return the extracted top."""
    _name, _version, top = sdist_metadata(sdist)
    with tarfile.open(sdist) as archive:
        members = [
            member
            for member in archive.getmembers()
            if _is_wanted(member.name, top, wanted)
        ]
        missing = [
            path
            for path in wanted
            if not any(_is_wanted(member.name, top, (path,)) for member in members)
        ]
        if missing:
            raise RuntimeError(f"{sdist.name} lacks {', '.join(missing)}")
        archive.extractall(root, members=members, filter="data")
    return root / top


def _is_wanted(member: str, top: str, wanted: tuple[str, ...]) -> bool:
    relative = member.removeprefix(f"{top}/")
    return any(
        relative.startswith(path) if path.endswith("/") else relative == path
        for path in wanted
    )


def fetch(
    requirement: str, wanted: tuple[str, ...], work: Path, import_dir: str
) -> FetchedSuite:
    sdist = download_sdist(requirement, work / "sdists")
    name, version, _top = sdist_metadata(sdist)
    top = extract(sdist, wanted, work / "extracted")
    return FetchedSuite(
        distribution=name,
        version=version,
        sdist=str(sdist),
        import_path=str(top / import_dir),
    )


def fetch_all(django: str, storages: str, work: Path) -> dict[str, FetchedSuite]:
    """Fetch both suites; record them in ``work/fetched.json``."""
    fetched = {
        "django": fetch(f"django{django}", DJANGO_FILES, work, "tests"),
        "storages": fetch(f"django-storages{storages}", STORAGES_FILES, work, ""),
    }
    (work / "fetched.json").write_text(
        json.dumps({key: asdict(value) for key, value in fetched.items()}, indent=2)
    )
    return fetched


def load_fetched(work: Path) -> dict[str, FetchedSuite]:
    path = work / "fetched.json"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `python -m peer fetch` first.")
    raw = json.loads(path.read_text())
    return {key: FetchedSuite(**value) for key, value in raw.items()}
