"""A project that sets STATIC_ROOT deploys as one that does not: the staging
directory is temporary unless ``staging_dir`` says otherwise, so a fresh
checkout gets incremental hashing, and STATIC_ROOT is never written."""

from __future__ import annotations

import io
import re
from pathlib import Path

from .conftest import Deploy, S3Bucket, StaticSource

LOCATION = "static"
RECORD = "staticfiles.json.sources"


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_a_fresh_checkout_with_static_root_set_hashes_incrementally(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource, tmp_path: Path
) -> None:
    static_root = tmp_path / "static_root"
    static_root.mkdir()
    first = deploy(static_root=static_root, incremental_hashing=True)
    assert files_under(static_root) == []
    # A fresh checkout: new mtimes, one stylesheet changed, a new storage
    # instance, and nothing of the previous run on disk.
    static_source.touch_all()
    static_source.write("css/plain.css", b"p { margin: 2em; }\n")
    s3.clear_log()
    output = io.StringIO()

    second = deploy(
        static_root=static_root,
        incremental_hashing=True,
        command_options={"verbosity": 1, "stdout": output},
    )

    assert second is not first
    summary = output.getvalue()
    assert "Hashing: incremental, 1 of 8 file(s) hashed." in summary
    uploaded = re.search(r"Published to \S+: (\d+) file\(s\) uploaded", summary)
    assert uploaded is not None
    # Its new hashed name, its original, the record and the manifest.
    assert int(uploaded.group(1)) == len(s3.put_keys()) == 4
    assert sorted(s3.put_keys()) == sorted(
        f"{LOCATION}/{name}" for name in second.last_publish.uploaded
    )
    assert s3.put_keys()[-2:] == [
        f"{LOCATION}/{RECORD}",
        f"{LOCATION}/staticfiles.json",
    ]
    hashed = second.hashed_files["css/plain.css"]
    assert s3.get(f"{LOCATION}/{hashed}") == b"p { margin: 2em; }\n"
    assert files_under(static_root) == []


def test_staging_dir_keeps_the_collection_and_run_time_reads_it(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource, tmp_path: Path
) -> None:
    static_root = tmp_path / "static_root"
    staging_dir = tmp_path / "collected"
    deploy(static_root=static_root, staging_dir=staging_dir)
    s3.clear_log()

    storage = deploy(static_root=static_root, staging_dir=staging_dir)

    assert not static_root.exists()
    assert (staging_dir / "staticfiles.json").is_file()
    for name, hashed in storage.hashed_files.items():
        assert (staging_dir / name).is_file()
        assert (staging_dir / hashed).is_file()
    # Read from the staged manifest: no request beyond the run's own GET.
    assert storage.url("css/site.css").endswith(storage.hashed_files["css/site.css"])
    assert s3.counts() == {"GET": 1}
