"""Checks that a deploy really published what was asked, so a fast contender
cannot win by skipping work.

After each run the harness reads the deployed manifest and checks that every
hashed file it names exists, and that the site stylesheet and image hold the
revision the scenario deployed (the stylesheet must also point at the new
image's hashed name), and that the shared image does too, with every one of
its referring stylesheets pointing at its hashed name.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any, Protocol

from benchmarks.assets import (
    REFERRER_STYLESHEETS,
    SHARED_IMAGE,
    SITE_IMAGE,
    SITE_STYLESHEET,
    SiteRevision,
    shared_image_bytes,
    site_image_bytes,
    stylesheet_marker,
)
from benchmarks.contenders import MANIFEST_NAME, S3_LOCATION

LISTING_PAGE_SIZE = 10_000


class DeployedFiles(Protocol):
    def names(self) -> set[str]: ...

    def read(self, name: str) -> bytes | None: ...


class BucketFiles:
    """Files under the static prefix of a bucket, read through a boto3 client."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def names(self) -> set[str]:
        prefix = f"{S3_LOCATION}/"
        found: set[str] = set()
        paginator = self._client.get_paginator("list_objects_v2")
        # Larger pages: moto sorts every key of the bucket for each page, so
        # at 200,000 objects listing 1,000 at a time took longer than the
        # deploy it checks; a page of 100,000 took moto longer than the
        # client waits to render. S3 itself returns at most 1,000 a page
        # whatever is asked.
        pages = paginator.paginate(
            Bucket=self._bucket,
            Prefix=prefix,
            PaginationConfig={"PageSize": LISTING_PAGE_SIZE},
        )
        for page in pages:
            found.update(
                item["Key"][len(prefix) :] for item in page.get("Contents", [])
            )
        return found

    def read(self, name: str) -> bytes | None:
        try:
            response = self._client.get_object(
                Bucket=self._bucket, Key=f"{S3_LOCATION}/{name}"
            )
        except self._client.exceptions.NoSuchKey:
            return None
        body: bytes = response["Body"].read()
        return body


class DirectoryFiles:
    """Files under a local STATIC_ROOT, for the contender that does not upload."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def names(self) -> set[str]:
        return {
            path.relative_to(self._root).as_posix()
            for path in self._root.rglob("*")
            if path.is_file()
        }

    def read(self, name: str) -> bytes | None:
        path = self._root / name
        return path.read_bytes() if path.is_file() else None


def verify_deploy(files: DeployedFiles, revision: SiteRevision) -> list[str]:
    """Problems found in a deploy; an empty list means it is complete."""
    raw_manifest = files.read(MANIFEST_NAME)
    if raw_manifest is None:
        return [f"no {MANIFEST_NAME} was deployed"]
    try:
        paths: dict[str, str] = json.loads(raw_manifest)["paths"]
    except (ValueError, KeyError) as error:
        return [f"{MANIFEST_NAME} is not a Django manifest: {error}"]

    problems: list[str] = []
    present = files.names()
    missing = sorted(set(paths.values()) - present)
    if missing:
        problems.append(f"{len(missing)} hashed files missing, e.g. {missing[:3]}")

    stylesheet_name = paths.get(SITE_STYLESHEET)
    image_name = paths.get(SITE_IMAGE)
    if stylesheet_name is None or image_name is None:
        return [*problems, "the site stylesheet or image is not in the manifest"]

    image = files.read(image_name)
    if image != site_image_bytes(revision.image):
        problems.append(f"{image_name} does not hold image revision {revision.image}")
    stylesheet = files.read(stylesheet_name)
    if stylesheet is None:
        problems.append(f"{stylesheet_name} is missing")
    else:
        text = stylesheet.decode(errors="replace")
        if stylesheet_marker(revision.stylesheet) not in text:
            problems.append(
                f"{stylesheet_name} is not stylesheet revision {revision.stylesheet}"
            )
        if posixpath.basename(image_name) not in text:
            problems.append(f"{stylesheet_name} does not reference {image_name}")
    return [*problems, *_shared_image_problems(files, paths, revision)]


def _shared_image_problems(
    files: DeployedFiles, paths: dict[str, str], revision: SiteRevision
) -> list[str]:
    """The shared image holds its revision and all its referrers point at it."""
    shared_name = paths.get(SHARED_IMAGE)
    if shared_name is None:
        return [f"{SHARED_IMAGE} is not in the manifest"]
    problems: list[str] = []
    if files.read(shared_name) != shared_image_bytes(revision.shared_image):
        problems.append(
            f"{shared_name} does not hold shared image revision {revision.shared_image}"
        )
    stale: list[str] = []
    for referrer in REFERRER_STYLESHEETS:
        deployed_name = paths.get(referrer)
        content = files.read(deployed_name) if deployed_name else None
        if content is None or posixpath.basename(shared_name).encode() not in content:
            stale.append(deployed_name or referrer)
    if stale:
        problems.append(
            f"{len(stale)} of {len(REFERRER_STYLESHEETS)} stylesheets do not "
            f"reference {shared_name}, e.g. {stale[:3]}"
        )
    return problems
