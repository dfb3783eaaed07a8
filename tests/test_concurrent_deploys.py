"""``manage.py collectstatic`` as separate processes: killed mid-publish, and
two deploys publishing at once."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.test import override_settings

from django_s3_manifest_storage.testing.s3_server import Fault, Rendezvous

from .conftest import BACKEND, Deploy, S3Bucket, StaticSource, client_config_settings

MANIFEST_KEY = "static/staticfiles.json"
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
# Generous: a guard against a hung test, not a measure of speed.
PROCESS_TIMEOUT_SECONDS = 120


def under_location(collection: dict[str, bytes]) -> dict[str, bytes]:
    return {f"static/{name}": body for name, body in collection.items()}


def start_collectstatic(
    s3: S3Bucket, source: Path, workdir: Path, **options: Any
) -> subprocess.Popen[str]:
    """Run ``python -m django collectstatic`` against the test bucket, as a
    deploy job would, with a settings module written for it."""
    name = f"deploy_settings_{uuid.uuid4().hex[:8]}"
    workdir.mkdir(parents=True, exist_ok=True)
    storage_options = s3.options(**options)
    # A botocore Config has no literal form: the module builds it.
    config = ""
    if storage_options.pop("client_config", None) is not None:
        config = f"OPTIONS['client_config'] = Config(**{client_config_settings()!r})\n"
    (workdir / f"{name}.py").write_text(
        "from botocore.config import Config\n"
        f"OPTIONS = {storage_options!r}\n"
        f"{config}"
        "SECRET_KEY = 'subprocess'\n"
        "INSTALLED_APPS = ['django.contrib.staticfiles', "
        "'django_s3_manifest_storage']\n"
        "STATIC_URL = '/static/'\n"
        f"STATICFILES_DIRS = [{str(source)!r}]\n"
        "USE_TZ = True\n"
        "STORAGES = {\n"
        "    'default': {'BACKEND': 'django.core.files.storage.FileSystemStorage'},\n"
        f"    'staticfiles': {{'BACKEND': {BACKEND!r}, "
        "'OPTIONS': OPTIONS},\n"
        "}\n"
    )
    (workdir / "tmp").mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "django", "collectstatic", "--noinput"],
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{workdir}:{REPOSITORY_ROOT}",
            "DJANGO_SETTINGS_MODULE": name,
            # The staging directory of a killed run stays in the test's tmp.
            "TMPDIR": str(workdir / "tmp"),
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PROCESS_TIMEOUT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.01)


def collect_locally(source: Path, root: Path) -> dict[str, bytes]:
    """What Django's ManifestStaticFilesStorage writes for ``source``."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
        },
    }
    with override_settings(
        STATICFILES_DIRS=[str(source)], STATIC_ROOT=str(root), STORAGES=storages
    ):
        call_command("collectstatic", interactive=False, verbosity=0)
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


def test_killed_mid_publish_leaves_the_old_manifest_and_a_rerun_converges(
    s3: S3Bucket,
    deploy: Deploy,
    static_source: StaticSource,
    reference_collection: Callable[[], dict[str, bytes]],
    tmp_path: Path,
) -> None:
    deploy()
    old_objects = s3.objects()
    old_manifest = s3.get(MANIFEST_KEY)
    static_source.write("css/plain.css", b"p { margin: 4em; }\n")
    static_source.write("img/logo.png", b"\x89PNG\r\n\x1a\n logo v3")
    # One new hashed file hangs on its way up, so the run is surely mid-publish.
    stalled = s3.add_fault(
        Fault("PUT", r"css/plain\.[0-9a-f]{12}\.css$", action="stall")
    )

    process = start_collectstatic(s3, static_source.root, tmp_path / "killed")
    wait_for(lambda: stalled.hits > 0 or process.poll() is not None)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=PROCESS_TIMEOUT_SECONDS)

    assert process.returncode == -signal.SIGKILL, stderr
    assert s3.get(MANIFEST_KEY) == old_manifest

    s3.bundled_server.clear_faults()
    deploy()

    assert s3.objects() == {**old_objects, **under_location(reference_collection())}


def test_two_deploys_at_once_leave_one_complete_release(
    s3: S3Bucket, static_source: StaticSource, tmp_path: Path
) -> None:
    source_b = tmp_path / "source-b"
    shutil.copytree(static_source.root, source_b)
    (source_b / "css" / "site.css").write_bytes(
        b'body { background: url("../img/bg.png"); }\n'
    )
    (source_b / "img" / "bg.png").write_bytes(b"\x89PNG\r\n\x1a\n background B")
    (source_b / "js" / "only-b.js").write_bytes(b"// only in B\n")
    releases = {
        "A": collect_locally(static_source.root, tmp_path / "reference-a"),
        "B": collect_locally(source_b, tmp_path / "reference-b"),
    }
    # Both runs reach their last step, the manifest, before either goes on.
    meeting = s3.bundled_server.add_rendezvous(
        Rendezvous("PUT", r"staticfiles\.json$", parties=2)
    )

    runs = {
        "A": start_collectstatic(s3, static_source.root, tmp_path / "run-a"),
        "B": start_collectstatic(s3, source_b, tmp_path / "run-b"),
    }
    for process in runs.values():
        _, stderr = process.communicate(timeout=PROCESS_TIMEOUT_SECONDS)
        assert process.returncode == 0, stderr

    assert meeting.met
    live = s3.get(MANIFEST_KEY)
    winner = next(
        release for release in releases.values() if release["staticfiles.json"] == live
    )
    objects = s3.objects()
    for original, hashed in json.loads(live)["paths"].items():
        assert objects[f"static/{hashed}"] == winner[hashed]
        assert f"static/{original}" in objects
    # The other release's hashed files are there too, for its running pods.
    for release in releases.values():
        hashed_names = json.loads(release["staticfiles.json"])["paths"].values()
        for hashed in hashed_names:
            assert objects[f"static/{hashed}"] == release[hashed]
