"""A temporary staging directory holds only what hashing wrote: the rest is
read from the sources, uploaded byte for byte. A persistent one (staging_dir)
still ends up holding the whole collection."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from django.core.files.base import ContentFile, File
from django.core.files.utils import validate_file_name
from hypothesis import given, settings
from hypothesis import strategies as st

from django_s3_manifest_storage.collect.staging import (
    DeferredCopies,
    Staging,
    plain_relative_name,
    staged_names,
)

from .conftest import SOURCE_FILES, Deploy, S3Bucket, StaticSource

# Neither CSS nor JS: Django saves their hashed copies unchanged.
NOT_REWRITTEN = ("img/bg.png", "img/logo.png", "fonts/icons.woff2", "data/config.json")


@pytest.fixture
def staged_at_the_end(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """Names in each temporary staging directory made during the test, just
    before it is removed. (A run an earlier test abandoned is cleaned up
    when its command is collected, which can happen during this test: its
    directory is not this test's.)"""
    seen: list[set[str]] = []
    made_here: list[Staging] = []
    init, discard = Staging.__init__, Staging.discard

    def recording_init(self: Staging, persistent: Path | None) -> None:
        init(self, persistent)
        made_here.append(self)

    def recording_discard(self: Staging) -> None:
        if self.temporary and any(self is made for made in made_here):
            seen.append(staged_names(self.root))
        discard(self)

    monkeypatch.setattr(Staging, "__init__", recording_init)
    monkeypatch.setattr(Staging, "discard", recording_discard)
    return seen


def test_a_temporary_staging_directory_copies_no_file_it_can_read_from_its_source(
    s3: S3Bucket, deploy: Deploy, staged_at_the_end: list[set[str]]
) -> None:
    deploy()

    stored = s3.objects("static/")
    paths = json.loads(stored["static/staticfiles.json"])["paths"]
    for name in NOT_REWRITTEN:
        assert stored[f"static/{name}"] == SOURCE_FILES[name]
        assert stored[f"static/{paths[name]}"] == SOURCE_FILES[name]
    assert stored["static/css/site.css"] == SOURCE_FILES["css/site.css"]

    [staged] = staged_at_the_end
    assert not staged & set(SOURCE_FILES)
    assert not staged & {paths[name] for name in NOT_REWRITTEN}
    # What hashing produced is written: the rewritten stylesheet.
    assert paths["css/site.css"] in staged
    assert b"bg." in stored[f"static/{paths['css/site.css']}"]


def test_a_persistent_staging_directory_ends_with_the_whole_collection(
    s3: S3Bucket, deploy: Deploy, static_source: StaticSource, tmp_path: Path
) -> None:
    staging_dir = tmp_path / "staging_dir"

    deploy(staging_dir=staging_dir)

    paths = json.loads((staging_dir / "staticfiles.json").read_bytes())["paths"]
    for name in NOT_REWRITTEN:
        assert (staging_dir / name).read_bytes() == SOURCE_FILES[name]
        assert (staging_dir / paths[name]).read_bytes() == SOURCE_FILES[name]
    on_s3 = {key.removeprefix("static/") for key in s3.object_keys("static/")}
    assert staged_names(staging_dir) == on_s3


# Characters that matter to path checks, and a few that do not.
NAME_CHARACTERS = "/.\\ab_-"


@given(st.text(alphabet=NAME_CHARACTERS, max_size=12))
def test_a_name_taken_as_plain_is_one_django_accepts(name: str) -> None:
    """The copy loop's quick check never lets through a name Django's
    ``validate_file_name`` refuses; the others go to Django's check."""
    if plain_relative_name(name):
        validate_file_name(name, allow_relative_path=True)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["save", "save_bytes", "delete", "exists"]),
            st.sampled_from(["a.css", "b/c.png", "b/d.js"]),
        ),
        max_size=12,
    )
)
@settings(max_examples=40, deadline=None)
def test_a_temporary_directory_answers_from_memory_as_the_disk_would(
    operations: list[tuple[str, str]],
) -> None:
    """Before hashing, ``exists`` of a temporary staging directory is
    answered from what it wrote: the same answers as a persistent one,
    which asks the disk."""
    with (
        tempfile.TemporaryDirectory() as sources,
        tempfile.TemporaryDirectory() as kept,
    ):
        source = Path(sources) / "source.txt"
        source.write_bytes(b"source")
        temporary, persistent = Staging(None), Staging(Path(kept))
        try:
            for operation, name in operations:
                answers = []
                for staging in (temporary, persistent):
                    if operation == "save":
                        with source.open("rb") as content:
                            staging.save(name, File(content))
                    elif operation == "save_bytes":
                        staging.save(name, ContentFile(b"written"))
                    elif operation == "delete":
                        staging.delete(name)
                    answers.append(staging.exists(name))
                assert answers[0] == answers[1], (operation, name)
                assert answers[0] == (
                    name in temporary.deferred or (temporary.root / name).exists()
                )
        finally:
            temporary.discard()


PATH_PARTS = st.text(alphabet="ab/.-", min_size=1, max_size=8)


@given(st.lists(st.tuples(PATH_PARTS, PATH_PARTS, st.booleans()), max_size=20))
def test_deferred_copies_give_back_every_source_as_recorded(
    saves: list[tuple[str, str, bool]],
) -> None:
    """A source kept as its directory (shared by the files under it) reads
    back as the whole path, and so does one that is not the directory
    followed by the name; the last save of a name wins."""
    copies = DeferredCopies()
    expected: dict[str, str] = {}
    for name, elsewhere, under_its_directory in saves:
        source = f"/static/{name}" if under_its_directory else f"/other/{elsewhere}"
        copies.record(name, source)
        expected[name] = source
    assert {name: copies.source(name) for name in copies.names()} == expected
    assert len(copies) == len(expected)
