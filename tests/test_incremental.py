"""Incremental hashing: a deploy hashes only changed files and the files that
reference them, and publishes exactly what a full collection would."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
import pytest
from django.contrib.staticfiles.storage import (
    ManifestStaticFilesStorage,
    staticfiles_storage,
)
from django.core.management import call_command
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from whitenoise.storage import CompressedManifestStaticFilesStorage

from .conftest import BACKEND, S3Bucket, StaticSource

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

LOCATION = "static"
MANIFEST = f"{LOCATION}/staticfiles.json"
RECORD = f"{LOCATION}/staticfiles.json.sources"


class ModuleImportsStorage(ManifestStaticFilesStorage):
    """Django's local storage, rewriting JS module imports too."""

    support_js_module_import_aggregation = True


class CompressedModuleImportsStorage(CompressedManifestStaticFilesStorage):
    """whitenoise's local storage, rewriting JS module imports too."""

    support_js_module_import_aggregation = True


LOCAL_STORAGES = {
    "django": f"{__name__}.ModuleImportsStorage",
    "whitenoise": f"{__name__}.CompressedModuleImportsStorage",
}


def collect(
    s3: S3Bucket,
    source: Path,
    bucket: str,
    staging_dir: Path | None = None,
    **options: Any,
) -> Any:
    """Run collectstatic on ``source`` into ``bucket``; return the storage."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": BACKEND,
            "OPTIONS": s3.options(
                bucket_name=bucket,
                **options,
                **({"staging_dir": str(staging_dir)} if staging_dir else {}),
            ),
        },
    }
    with override_settings(STATICFILES_DIRS=[str(source)], STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
        return staticfiles_storage._wrapped


def new_bucket(s3: S3Bucket) -> str:
    name = f"test-{uuid.uuid4().hex[:20]}"
    s3.client.create_bucket(Bucket=name)
    return name


def objects(s3: S3Bucket, bucket: str) -> dict[str, bytes]:
    paginator = s3.client.get_paginator("list_objects_v2")
    keys = [
        entry["Key"]
        for page in paginator.paginate(Bucket=bucket)
        for entry in page.get("Contents", ())
    ]
    return {
        key: s3.client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys
    }


def assert_live_release_equals_a_full_collection(
    s3: S3Bucket, source: Path, bucket: str, **options: Any
) -> None:
    """Every object a full collection of ``source`` stores (the manifest and
    the record included) is in ``bucket`` with the same bytes."""
    reference = new_bucket(s3)
    full = collect(s3, source, reference, **options)
    assert full.last_publish.hashing.incremental is False
    expected = objects(s3, reference)
    actual = objects(s3, bucket)
    assert MANIFEST in expected
    assert RECORD in expected
    different = sorted(key for key in expected if actual.get(key) != expected[key])
    assert different == []
    # And no original a full collection lacks (whitenoise's keep-only-hashed
    # mode removes them). Older releases' objects stay in the bucket: no
    # retention here.
    paths = json.loads(expected[MANIFEST])["paths"]
    originals = {f"{LOCATION}/{name}" for name in paths}
    assert sorted(originals.intersection(actual)) == sorted(
        originals.intersection(expected)
    )


# A project model the property test edits --------------------------------


@dataclass
class Stylesheet:
    references: list[str] = field(default_factory=list)
    """Names of images (``x.png``) and of other stylesheets (``x.css``)."""
    body: int = 0
    source_map: bool = False


@dataclass
class Script:
    imports: list[str] = field(default_factory=list)
    body: int = 0
    source_map: bool = False


@dataclass
class Project:
    images: dict[str, int] = field(default_factory=dict)
    stylesheets: dict[str, Stylesheet] = field(default_factory=dict)
    scripts: dict[str, Script] = field(default_factory=dict)
    counter: int = 0

    @classmethod
    def initial(cls) -> Project:
        return cls(
            images={"bg.png": 0, "logo.png": 0},
            stylesheets={
                "a-base.css": Stylesheet(["logo.png"]),
                "b-site.css": Stylesheet(["bg.png", "a-base.css"], source_map=True),
                "c-plain.css": Stylesheet(),
            },
            scripts={
                "a-util.js": Script(),
                "b-app.js": Script(["a-util.js"], source_map=True),
            },
        )

    def fresh(self, extension: str) -> str:
        self.counter += 1
        return f"n{self.counter}.{extension}"

    def files(self) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        for name, version in self.images.items():
            files[f"img/{name}"] = f"\x89PNG {name} v{version}".encode()
        for name, sheet in self.stylesheets.items():
            lines = [
                f'@import url("{target}");'
                if target.endswith(".css")
                else f'.{target[:-4]} {{ background: url("../img/{target}"); }}'
                for target in sheet.references
            ]
            lines.append(f"/* {name} v{sheet.body} */")
            if sheet.source_map:
                lines.append(f"/*# sourceMappingURL={name}.map */")
                files[f"css/{name}.map"] = (
                    f'{{"version": 3, "file": "{name}"}}'.encode()
                )
            files[f"css/{name}"] = ("\n".join(lines) + "\n").encode()
        for name, script in self.scripts.items():
            lines = [
                f'import {{ x{i} }} from "./{target}";'
                for i, target in enumerate(script.imports)
            ]
            lines.append(f'console.log("{name} v{script.body}");')
            if script.source_map:
                lines.append(f"//# sourceMappingURL={name}.map")
                files[f"js/{name}.map"] = f'{{"version": 3, "file": "{name}"}}'.encode()
            files[f"js/{name}"] = ("\n".join(lines) + "\n").encode()
        return files

    def write(self, root: Path) -> None:
        shutil.rmtree(root, ignore_errors=True)
        for name, content in self.files().items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)

    # Edits: each keeps the project collectable (no dangling reference, and
    # a stylesheet or script only refers to ones named before it: no cycle).

    def forget(self, target: str) -> None:
        for sheet in self.stylesheets.values():
            sheet.references = [name for name in sheet.references if name != target]
        for script in self.scripts.values():
            script.imports = [name for name in script.imports if name != target]

    def rename(self, old: str, new: str) -> None:
        for sheet in self.stylesheets.values():
            sheet.references = [
                new if name == old else name for name in sheet.references
            ]
        for script in self.scripts.values():
            script.imports = [new if name == old else name for name in script.imports]


EDITS = (
    "change image",
    "change stylesheet",
    "change script",
    "add file",
    "delete file",
    "rename file",
    "add url",
    "remove url",
    "add import",
    "remove import",
    "toggle source map",
)


def apply_edit(project: Project, edit: str, data: st.DataObject) -> None:
    def pick(names: Any) -> str | None:
        names = sorted(names)
        return data.draw(st.sampled_from(names)) if names else None

    if edit == "change image":
        if (name := pick(project.images)) is not None:
            project.images[name] += 1
    elif edit == "change stylesheet":
        if (name := pick(project.stylesheets)) is not None:
            project.stylesheets[name].body += 1
    elif edit == "change script":
        if (name := pick(project.scripts)) is not None:
            project.scripts[name].body += 1
    elif edit == "add file":
        kind = data.draw(st.sampled_from(["png", "css", "js"]))
        name = project.fresh(kind)
        if kind == "png":
            project.images[name] = 0
        elif kind == "css":
            project.stylesheets[name] = Stylesheet()
        else:
            project.scripts[name] = Script()
    elif edit in ("delete file", "rename file"):
        name = pick([*project.images, *project.stylesheets, *project.scripts])
        if name is None:
            return
        kind = name.rpartition(".")[2]
        table: dict[str, Any] = {
            "png": project.images,
            "css": project.stylesheets,
            "js": project.scripts,
        }[kind]
        value = table.pop(name)
        if edit == "delete file":
            project.forget(name)
        else:
            # "x-r1.css" sorts where "x.css" did: references still only go
            # to earlier names, so no edit makes a cycle.
            stem, _dot, extension = name.rpartition(".")
            project.counter += 1
            new = f"{stem}-r{project.counter}.{extension}"
            table[new] = value
            project.rename(name, new)
    elif edit == "add url":
        referrer = pick(project.stylesheets)
        if referrer is None:
            return
        sheet = project.stylesheets[referrer]
        targets = [
            *project.images,
            *(name for name in project.stylesheets if name < referrer),
        ]
        target = pick(name for name in targets if name not in sheet.references)
        if target is not None:
            sheet.references.append(target)
    elif edit == "remove url":
        referrer = pick(
            name for name, sheet in project.stylesheets.items() if sheet.references
        )
        if referrer is not None:
            sheet = project.stylesheets[referrer]
            sheet.references.remove(data.draw(st.sampled_from(sheet.references)))
    elif edit == "add import":
        referrer = pick(project.scripts)
        if referrer is None:
            return
        script = project.scripts[referrer]
        target = pick(
            name
            for name in project.scripts
            if name < referrer and name not in script.imports
        )
        if target is not None:
            script.imports.append(target)
    elif edit == "remove import":
        referrer = pick(
            name for name, script in project.scripts.items() if script.imports
        )
        if referrer is not None:
            script = project.scripts[referrer]
            script.imports.remove(data.draw(st.sampled_from(script.imports)))
    elif edit == "toggle source map":
        name = pick([*project.stylesheets, *project.scripts])
        if name is not None:
            item: Any = project.stylesheets.get(name) or project.scripts[name]
            item.source_map = not item.source_map


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A source directory per hypothesis example (function-scoped fixtures
    are shared by all examples)."""
    root = Path(tempfile.mkdtemp(prefix="incremental-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("local_storage", sorted(LOCAL_STORAGES))
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_random_edits_publish_what_a_full_collection_would(
    s3: S3Bucket, scratch: Path, local_storage: str, data: st.DataObject
) -> None:
    # whitenoise's settings that change which files a collection holds.
    changes_the_files: dict[str, Any] = {}
    if local_storage == "whitenoise":
        changes_the_files["WHITENOISE_KEEP_ONLY_HASHED_FILES"] = data.draw(
            st.booleans()
        )
        skipped = data.draw(st.sampled_from([None, ("css",), ("js", "png")]))
        if skipped is not None:
            changes_the_files["WHITENOISE_SKIP_COMPRESS_EXTENSIONS"] = skipped
    with override_settings(**changes_the_files):
        deploy_random_edits(s3, scratch, local_storage, data)


def deploy_random_edits(
    s3: S3Bucket, scratch: Path, local_storage: str, data: st.DataObject
) -> None:
    options = {
        "local_storage_class": LOCAL_STORAGES[local_storage],
        "incremental_hashing": True,
    }
    source = scratch / uuid.uuid4().hex
    bucket = new_bucket(s3)
    project = Project.initial()
    project.write(source)
    collect(s3, source, bucket, **options)
    edits = data.draw(st.lists(st.sampled_from(EDITS), min_size=1, max_size=3))
    for edit in edits:
        apply_edit(project, edit, data)
        project.write(source)
        storage = collect(s3, source, bucket, **options)
        hashing = storage.last_publish and storage.last_publish.hashing
        # An edit that changes nothing is adopted without hashing.
        if hashing is not None:
            assert hashing.incremental, hashing.full_reason
        assert_live_release_equals_a_full_collection(s3, source, bucket, **options)


# One change, counted --------------------------------------------------------


def test_a_changed_image_hashes_it_and_its_referrers_and_uploads_what_changed(
    s3: S3Bucket, deploy: Any, static_source: StaticSource
) -> None:
    deploy(incremental_hashing=True)
    before = s3.objects()
    static_source.write("img/bg.png", b"\x89PNG\r\n\x1a\n background v2")
    s3.clear_log()

    report = deploy(incremental_hashing=True).last_publish

    # print.css imports site.css, which references the image.
    assert report.hashing.incremental
    assert set(report.hashing.hashed_names) == {
        "img/bg.png",
        "css/site.css",
        "css/print.css",
    }
    assert "Hashing: incremental, 3 of 8 file(s) hashed." in report.summary()
    after = s3.objects()
    old_paths = json.loads(before[MANIFEST])["paths"]
    new_paths = json.loads(after[MANIFEST])["paths"]
    # New bytes, and the originals whose hashed name changed (as a full
    # pass would publish them: see plan.py).
    changed = sorted(
        {key for key in after if before.get(key) != after[key]}
        | {
            f"{LOCATION}/{name}"
            for name, hashed in new_paths.items()
            if old_paths.get(name) != hashed
        }
    )
    assert sorted(s3.put_keys()) == changed
    assert len(report.uploaded) == len(changed)
    # The record goes before the manifest, the manifest last.
    assert s3.put_keys()[-2:] == [RECORD, MANIFEST]
    assert_live_release_equals_a_full_collection(
        s3, static_source.root, s3.name, incremental_hashing=True
    )


def test_a_file_nothing_references_is_hashed_alone(
    s3: S3Bucket, deploy: Any, static_source: StaticSource
) -> None:
    deploy(incremental_hashing=True)
    static_source.write("js/app.js", b'console.log("app v2");\n')
    s3.clear_log()

    report = deploy(incremental_hashing=True).last_publish

    # Its new hashed name, its original, the record and the manifest.
    assert sorted(s3.put_keys()) == sorted(
        [f"{LOCATION}/{report_name}" for report_name in report.uploaded]
    )
    assert len(s3.put_keys()) == 4
    assert report.hashing.hashed_names == ("js/app.js",)
    assert_live_release_equals_a_full_collection(
        s3, static_source.root, s3.name, incremental_hashing=True
    )


def test_turned_off_every_file_is_hashed_and_no_record_is_kept(
    s3: S3Bucket, deploy: Any, static_source: StaticSource
) -> None:
    deploy(incremental_hashing=False)
    static_source.write("js/app.js", b'console.log("app v2");\n')

    report = deploy(incremental_hashing=False).last_publish

    assert not report.hashing.incremental
    assert report.hashing.hashed == 8
    assert RECORD not in s3.object_keys()


# Fallbacks --------------------------------------------------------------------


def _change_a_file(static_source: StaticSource) -> None:
    static_source.write("js/app.js", b'console.log("app v2");\n')


FALLBACKS = {
    "the local storage class": (
        {"local_storage_class": LOCAL_STORAGES["whitenoise"]},
        "the local storage class, its options or its hashing settings changed",
    ),
    "its options": (
        {"local_storage_options": {"base_url": "/elsewhere/"}},
        "the local storage class, its options or its hashing settings changed",
    ),
}


@pytest.mark.parametrize("change", sorted(FALLBACKS))
def test_a_changed_local_storage_means_a_full_pass(
    s3: S3Bucket, deploy: Any, static_source: StaticSource, change: str
) -> None:
    deploy(incremental_hashing=True)
    options, reason = FALLBACKS[change]

    report = deploy(incremental_hashing=True, **options).last_publish

    assert not report.hashing.incremental
    assert "Hashing: full, 8 file(s) hashed (" in report.summary()
    assert reason in report.hashing.full_reason
    assert_live_release_equals_a_full_collection(
        s3, static_source.root, s3.name, incremental_hashing=True, **options
    )


def test_a_changed_static_url_means_a_full_pass(
    s3: S3Bucket, deploy: Any, static_source: StaticSource
) -> None:
    deploy(incremental_hashing=True)
    with override_settings(STATIC_URL="/assets/"):
        report = deploy(incremental_hashing=True).last_publish

    assert not report.hashing.incremental
    assert "(STATIC_URL or the WHITENOISE_* settings changed)" in report.summary()


def test_another_django_version_means_a_full_pass(
    s3: S3Bucket,
    deploy: Any,
    static_source: StaticSource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deploy(incremental_hashing=True)
    monkeypatch.setattr(django, "__version__", "9.9")

    report = deploy(incremental_hashing=True).last_publish

    assert not report.hashing.incremental
    assert "Django " in report.hashing.full_reason
    assert "-> 9.9" in report.summary()


def test_a_release_without_a_record_means_a_full_pass(
    s3: S3Bucket, deploy: Any, static_source: StaticSource
) -> None:
    deploy(incremental_hashing=False)
    _change_a_file(static_source)

    report = deploy(incremental_hashing=True).last_publish

    assert not report.hashing.incremental
    assert "(the deployed release has no record of its sources)" in report.summary()
    # ...and the release it publishes has one.
    _change_a_file_again(static_source)
    assert deploy(incremental_hashing=True).last_publish.hashing.incremental


def _change_a_file_again(static_source: StaticSource) -> None:
    static_source.write("js/app.js", b'console.log("app v3");\n')


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("delete", "is missing"),
        ("replace", "belongs to another release"),
    ],
)
def test_a_missing_or_foreign_record_means_a_full_pass(
    s3: S3Bucket,
    deploy: Any,
    static_source: StaticSource,
    damage: str,
    reason: str,
) -> None:
    deploy(incremental_hashing=True)
    if damage == "delete":
        s3.client.delete_object(Bucket=s3.name, Key=RECORD)
    else:
        s3.put(
            RECORD, b'{"version": 1, "sources": {}, "references": {}, "objects": []}'
        )
    _change_a_file(static_source)

    report = deploy(incremental_hashing=True).last_publish

    assert not report.hashing.incremental
    assert reason in report.hashing.full_reason
    assert f"s3://{s3.name}/{RECORD}" in report.summary()
    assert_live_release_equals_a_full_collection(
        s3, static_source.root, s3.name, incremental_hashing=True
    )


# A persistent staging directory -------------------------------------------------


def tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


@pytest.mark.parametrize("local_storage", sorted(LOCAL_STORAGES))
def test_staging_dir_holds_what_a_full_pass_leaves(
    s3: S3Bucket,
    deploy: Any,
    static_source: StaticSource,
    tmp_path: Path,
    local_storage: str,
) -> None:
    options = {
        "incremental_hashing": True,
        "local_storage_class": LOCAL_STORAGES[local_storage],
    }
    staging_dir = tmp_path / "staging_dir"
    deploy(staging_dir=staging_dir, **options)
    full_root = tmp_path / "full_root"
    shutil.copytree(staging_dir, full_root)
    static_source.write("img/bg.png", b"\x89PNG\r\n\x1a\n background v2")
    static_source.touch_all()

    report = deploy(staging_dir=staging_dir, **options).last_publish
    # A full pass on the same directory, publishing to an empty bucket.
    full = collect(
        s3, static_source.root, new_bucket(s3), staging_dir=full_root, **options
    ).last_publish

    assert report.hashing.incremental
    assert not full.hashing.incremental
    assert tree(staging_dir) == tree(full_root)


def test_a_staging_dir_from_another_release_means_a_full_pass(
    s3: S3Bucket, deploy: Any, static_source: StaticSource, tmp_path: Path
) -> None:
    deploy(incremental_hashing=True)
    _change_a_file(static_source)

    report = deploy(
        incremental_hashing=True, staging_dir=tmp_path / "staging_dir"
    ).last_publish

    assert not report.hashing.incremental
    assert "the staging directory does not hold the deployed release" in (
        report.summary()
    )


def test_a_dry_run_lists_what_the_incremental_deploy_uploads(
    s3: S3Bucket, deploy: Any, static_source: StaticSource
) -> None:
    deploy(incremental_hashing=True)
    static_source.write("img/bg.png", b"\x89PNG\r\n\x1a\n background v2")

    planned = deploy(incremental_hashing=True, dry_run=True).last_dry_run
    report = deploy(incremental_hashing=True).last_publish

    assert report.hashing.incremental
    # The record of sources is one of them: the counts agree.
    assert "staticfiles.json.sources" in planned.uploads
    assert sorted(planned.uploads) == sorted(report.uploaded)
    assert planned.upload_bytes == report.uploaded_bytes


def test_a_query_reference_to_a_kept_rewritten_file_means_a_full_pass(
    s3: S3Bucket, deploy: Any, static_source: StaticSource
) -> None:
    deploy(incremental_hashing=True)
    static_source.write("css/extra.css", b'@import url("site.css?v=2");\n')

    report = deploy(incremental_hashing=True).last_publish

    assert not report.hashing.incremental
    assert "references 'css/site.css?v=2'" in report.hashing.full_reason
    assert_live_release_equals_a_full_collection(
        s3, static_source.root, s3.name, incremental_hashing=True
    )
