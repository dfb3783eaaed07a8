from __future__ import annotations

import json

import pytest

from django_s3_manifest_storage.planning.manifest import (
    InvalidManifest,
    parse_manifest_paths,
)


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_supported_versions_parse(version: str) -> None:
    content = json.dumps(
        {"version": version, "paths": {"a.css": "a.1.css"}, "hash": "x", "stats": {}}
    ).encode()
    assert parse_manifest_paths(content) == {"a.css": "a.1.css"}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe garbage", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"paths": {}}', "version None"),
        (b'{"version": "2.0", "paths": {}}', "version '2.0'"),
        (b'{"version": "1.1", "paths": []}', "'paths'"),
        (b'{"version": "1.1", "paths": {"a": 1}}', "'paths'"),
    ],
)
def test_garbage_is_rejected_with_a_reason(content: bytes, reason: str) -> None:
    with pytest.raises(InvalidManifest, match=reason):
        parse_manifest_paths(content)
