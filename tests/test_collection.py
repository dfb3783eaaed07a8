"""The staged collection a run reads once for its record and its plan."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_s3_manifest_storage.collect.staging import Staging
from django_s3_manifest_storage.errors import PublishError
from django_s3_manifest_storage.planning.collection import BothNames, staged_collection
from django_s3_manifest_storage.planning.delta import (
    PublishPlan,
    StagedFileMissing,
    plan_publish,
)
from django_s3_manifest_storage.planning.manifest import same_items
from django_s3_manifest_storage.planning.names import (
    collection_names,
    is_variant_of,
    iter_collection_names,
    manifest_names,
    objects_of,
)
from django_s3_manifest_storage.planning.stamp import DeployedState, collection_stamp

stems = st.sampled_from(["a", "b", "c", "d/e", "d/f"])
originals = st.builds(
    lambda stem, ext: f"{stem}.{ext}", stems, st.sampled_from(["css", "js"])
)
manifests = st.dictionaries(
    originals, st.sampled_from(["1", "2", "3"]), max_size=8
).map(
    lambda hashes: {name: name.replace(".", f".{h}.", 1) for name, h in hashes.items()}
)


@st.composite
def collections(draw: st.DrawFn) -> tuple[dict[str, str], list[str]]:
    """A manifest, and a staging directory's names as a walk and the
    deferred copies give them: some of its names, their compressed
    variants, files outside it, repeats."""
    paths = draw(manifests)
    listed = sorted({*paths, *paths.values()})
    around = ["staticfiles.json", "staticfiles.json.sources", "other.txt", "x.css.gz"]
    pool = listed + [name + suffix for name in listed for suffix in (".gz", ".br")]
    staged = draw(st.lists(st.sampled_from(pool + around), max_size=30))
    # Copies of the strings, as a directory walk reads them.
    return paths, ["".join(name) for name in staged]


@given(collections(), st.booleans(), st.booleans(), st.data())
def test_the_collection_is_what_planning_asks_of_the_staged_names(
    collection: tuple[dict[str, str], list[str]],
    deployed: bool,
    listed: bool,
    data: st.DataObject,
) -> None:
    paths, every_staged = collection
    every = {*paths, *paths.values()}
    # Some names of the collection S3 holds already, which an incremental
    # pass did not stage (or, in a kept staging directory, did).
    of_collection = sorted(
        {name for name in every_staged if name in every or is_variant_of(name, every)}
    )
    # As an incremental pass keeps them: as the manifest's strings.
    manifest_strings = {name: name for entry in paths.items() for name in entry}
    also_staged = {
        manifest_strings.get(name, name)
        for name in data.draw(st.lists(st.sampled_from(of_collection or [""])))
        if name in of_collection
    }
    staged = [
        name
        for name in every_staged
        if name not in also_staged or data.draw(st.booleans())
    ]
    result = staged_collection(b"{}", paths, iter(staged), frozenset(also_staged))
    assert result.objects == {
        name for name in every_staged if name in every or is_variant_of(name, every)
    }
    assert len(result.objects) == len(set(result.objects))
    staged = every_staged
    assert result.hashed_names == set(paths.values())
    assert sorted(result.manifest_names()) == sorted(every)
    # A manifest's name is kept as the manifest's own string.
    own = {id(name) for entry in paths.items() for name in entry}
    assert all(id(name) in own for name in result.objects if name in every)
    # Planning from the collection's objects equals planning from every
    # staged name.
    assert collection_names(result.objects, paths) == collection_names(staged, paths)
    assert collection_stamp(
        None, {}, {}, None, result.objects, paths, result.hashed_names
    ) == collection_stamp(None, {}, {}, None, set(staged), paths)
    remote = {name: hashed for name, hashed in list(paths.items())[::2]}
    remote_names = set(staged[::3]) if listed else None

    def plan(
        staged: Collection[str], hashed_names: frozenset[str] | None = None
    ) -> PublishPlan | type[StagedFileMissing]:
        try:
            return plan_publish(
                staged=staged,
                local_paths=paths,
                remote_paths=remote if deployed else None,
                manifest_name="staticfiles.json",
                manifest_unchanged=False,
                remote_names=remote_names,
                hashed_names=hashed_names,
            )
        except StagedFileMissing:  # a hashed name is not staged
            return StagedFileMissing

    assert plan(result.objects, frozenset(result.hashed_names)) == plan(set(staged))


@given(collections())
def test_the_collection_is_visited_once_per_name_without_a_set(
    collection: tuple[dict[str, str], list[str]],
) -> None:
    paths, staged = collection
    # Originals that are variants of other names, and a hashed name ending
    # like a variant, as a source named "x.css.gz" gives.
    paths = {**paths, "a.css.gz": "a.css.9.gz", "b.js": "a.css"}
    staged = [*staged, "a.css.gz", "a.css.9.gz", "a.css.gz.br", "a.css.br"]
    visited = list(iter_collection_names(set(staged), paths, set(paths.values())))
    assert len(visited) == len(set(visited))
    assert set(visited) == collection_names(set(staged), paths)


@given(manifests)
def test_the_deployed_manifest_lists_each_name_once_without_a_set(
    paths: dict[str, str],
) -> None:
    # An original that is also a hashed name, as when one file's hashed
    # name is another's source.
    paths = {**paths, "a.1.css": "a.1.7.css"}
    deployed = DeployedState(b"{}", paths)
    listed = list(deployed.manifest_names(deployed.hashed_names()))
    assert len(listed) == len(set(listed))
    assert set(listed) == manifest_names(paths)


@given(collections(), st.data())
def test_the_recorded_objects_of_sources_are_theirs_and_their_variants(
    collection: tuple[dict[str, str], list[str]], data: st.DataObject
) -> None:
    paths, staged = collection
    paths = {**paths, "a.css.gz": "a.css.9.gz"}
    objects = [*staged, "a.css.gz", "a.css.9.gz"]
    sources = data.draw(st.lists(st.sampled_from(sorted(paths))))
    owned = {name for source in sources for name in (source, paths[source])}
    every_name = manifest_names(paths)
    kept = objects_of(objects, sources, paths)
    assert kept == {
        name
        for name in objects
        if name in owned or (name not in every_name and is_variant_of(name, owned))
    }
    # An original or a hashed name is the sources' or the manifest's
    # string, not the record's copy: the record can be let go.
    own = {id(name) for name in (*sources, *(paths[source] for source in sources))}
    assert all(id(name) in own for name in kept if name in owned)


def test_same_items_compares_items_in_order() -> None:
    assert same_items({"a": "1", "b": "2"}, {"a": "1", "b": "2"})
    assert not same_items({"a": "1", "b": "2"}, {"b": "2", "a": "1"})
    assert not same_items({"a": "1"}, {"a": "2"})
    assert not same_items({"a": "1"}, {"a": "1", "b": "2"})


def _staging_with_manifest(tmp_path: Path, paths: dict[str, str]) -> Staging:
    staging = Staging(tmp_path)
    manifest = {"version": "1.1", "paths": paths, "hash": "x"}
    (tmp_path / "staticfiles.json").write_text(json.dumps(manifest))
    for name in {*paths, *paths.values()}:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    return staging


def test_the_hashing_storages_mapping_is_kept_when_the_manifest_holds_it(
    tmp_path: Path,
) -> None:
    hashed_files = {"css/a.css": "css/a.1.css", "b.js": "b.2.js"}
    staging = _staging_with_manifest(tmp_path, hashed_files)
    collection = staging.collection("staticfiles.json", (), hashed_files)
    assert collection.paths is hashed_files
    assert collection.objects == {*hashed_files, *hashed_files.values()}

    reordered = dict(reversed(hashed_files.items()))
    collection = staging.collection("staticfiles.json", (), reordered)
    assert collection.paths is not reordered
    assert list(collection.paths.items()) == list(hashed_files.items())


def test_names_an_incremental_pass_kept_belong_to_the_collection(
    tmp_path: Path,
) -> None:
    staging = _staging_with_manifest(tmp_path, {"a.css": "a.1.css"})
    (tmp_path / "a.1.css").unlink()
    collection = staging.collection("staticfiles.json", {"a.1.css", "b.css"}, None)
    assert collection.objects == {"a.css", "a.1.css"}
    assert len(collection.objects) == 2


def test_an_unusable_manifest_is_named(tmp_path: Path) -> None:
    staging = Staging(tmp_path)
    (tmp_path / "staticfiles.json").write_text("[]")
    with pytest.raises(PublishError, match=r"staticfiles\.json is unusable"):
        staging.collection("staticfiles.json", (), None)
    (tmp_path / "staticfiles.json").unlink()
    with pytest.raises(PublishError, match="nothing was uploaded"):
        staging.collection("staticfiles.json", (), None)


def test_both_names_is_one_set_of_two_disjoint_ones() -> None:
    both = BothNames({"a.css", "a.1.css"}, frozenset({"b.1.js"}))
    assert len(both) == 3
    assert "b.1.js" in both
    assert "b.js" not in both
    assert sorted(both) == ["a.1.css", "a.css", "b.1.js"]
    assert both == {"a.css", "a.1.css", "b.1.js"}
    assert both & {"a.css", "b.1.js", "c"} == {"a.css", "b.1.js"}
    assert both - {"a.css"} == {"a.1.css", "b.1.js"}
