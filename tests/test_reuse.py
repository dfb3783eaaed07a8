"""Whether a deploy can reuse the deployed release, as pure logic."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from django_s3_manifest_storage.planning.fingerprint import (
    digest_lines,
    digest_sorted_lines,
    parameter_lines,
    parameters_digests,
)
from django_s3_manifest_storage.planning.record import ReleaseRecord
from django_s3_manifest_storage.planning.reuse import (
    hashed_on_s3,
    plan_reuse,
    reusable_paths,
    serves,
)
from django_s3_manifest_storage.planning.stamp import CollectionStamp, DeployedState

PATHS = {"css/site.css": "css/site.222.css", "img/bg.png": "img/bg.333.png"}
CONTEXT = {"django": "5.2", "hashing": "h", "settings": "s"}
PARAMETERS = {"CacheControl": "c", "ContentType": "t"}
EVERY_NAME = {*PATHS, *PATHS.values()}


def deployed(
    sources: str | None = "abc", context: dict[str, str] | None = CONTEXT
) -> DeployedState:
    stamp = CollectionStamp(sources, context, dict(PARAMETERS))
    return DeployedState(b"{}", dict(PATHS), stamp)


def test_a_release_made_in_the_same_context_is_reusable() -> None:
    assert reusable_paths(deployed(), CONTEXT, PARAMETERS) == (PATHS, None)


def test_another_context_or_parameters_reuse_nothing_and_say_why() -> None:
    newer = {**CONTEXT, "django": "6.0"}
    assert reusable_paths(deployed(), newer, PARAMETERS) == (
        None,
        "Django 5.2 -> 6.0",
    )
    other_parameters = {**PARAMETERS, "CacheControl": "x"}
    assert reusable_paths(deployed(), CONTEXT, other_parameters) == (
        None,
        "upload parameters changed: CacheControl",
    )
    assert reusable_paths(DeployedState.absent(), CONTEXT, None) == (
        None,
        "no manifest on S3 yet",
    )


def test_the_deployed_release_serves_the_sources_it_was_made_from() -> None:
    assert serves(deployed(), "abc", PATHS, None)
    assert serves(deployed(), "abc", PATHS, EVERY_NAME)


def test_other_sources_are_not_served() -> None:
    assert not serves(deployed(), "abd", PATHS, None)
    assert not serves(deployed(sources=None), "abc", PATHS, None)
    assert not serves(DeployedState.absent(), "abc", None, None)


def test_a_release_that_cannot_be_reused_does_not_serve() -> None:
    assert not serves(deployed(), "abc", None, None)


def test_a_release_s3_lost_a_file_of_does_not_serve() -> None:
    assert not serves(deployed(), "abc", PATHS, EVERY_NAME - {"img/bg.333.png"})
    assert not serves(deployed(), "abc", PATHS, EVERY_NAME - {"css/site.css"})


def test_hashed_names_on_s3_are_the_reusable_ones_s3_holds() -> None:
    assert hashed_on_s3(PATHS, None) == set(PATHS.values())
    assert hashed_on_s3(PATHS, {"css/site.222.css", "css/site.css"}) == {
        "css/site.222.css"
    }
    assert hashed_on_s3(None, None) == set()


def test_the_stamp_keeps_the_collection_s_object_count() -> None:
    stamp = CollectionStamp("abc", CONTEXT, dict(PARAMETERS), None, 7)
    assert CollectionStamp.from_metadata(stamp.metadata()) == stamp
    assert DeployedState(b"{}", dict(PATHS), stamp).object_count() == 7


def test_a_release_recorded_without_a_count_is_counted_by_its_manifest() -> None:
    garbled = {**CollectionStamp("abc", CONTEXT).metadata(), "collection-objects": "x"}
    assert CollectionStamp.from_metadata(garbled).object_count is None
    assert deployed().object_count() == len(EVERY_NAME)


def test_parameters_digests_keep_the_format_deployed_releases_recorded() -> None:
    # Digests stored with releases published before; a change here makes
    # every project's next deploy a full upload ("upload parameters changed").
    by_name = [
        (
            "css/site.css",
            {"ContentType": "text/css", "CacheControl": "no-cache", "gzip": False},
        ),
        ("a.png", {"ContentType": "image/png", "ACL": "public-read", "gzip": True}),
    ]
    assert parameters_digests(by_name) == {
        "ContentType": "8f782bbeaa2c6b4c",
        "ACL": "5b84763a560353aa",
        "gzip": "c6ed35119ad9a462",
        "CacheControl": "01ebd0669941174b",
    }
    assert parameters_digests(by_name) == digest_lines(
        (name, parameter_lines(parameters)) for name, parameters in by_name
    )
    assert parameters_digests(by_name) == digest_sorted_lines(
        (name, parameter_lines(parameters)) for name, parameters in sorted(by_name)
    )


@given(
    st.dictionaries(
        st.sampled_from(["a.css", "b.js", "c/d.css", "e.png"]),
        st.sampled_from(["1", "2"]),
        min_size=1,
    ),
    st.data(),
)
def test_a_kept_source_is_a_kept_object_when_its_original_was_published(
    hashes: dict[str, str], data: st.DataObject
) -> None:
    paths = {name: name.replace(".", f".{h}.", 1) for name, h in hashes.items()}
    published = data.draw(st.sets(st.sampled_from(sorted(paths))))
    objects = sorted(
        {*paths.values(), *published, *(f"{name}.gz" for name in published)}
    )
    digests = {name: "d" for name in paths}
    record = ReleaseRecord(digests, {}, tuple(objects))
    changed = data.draw(st.sampled_from(sorted(paths)))
    sources = {**digests, changed: "changed"}
    reuse, reason = plan_reuse(
        record, paths, sources, {name: name for name in paths}, None
    )
    assert reason is None
    assert reuse is not None
    assert reuse.dirty == {changed}
    assert set(reuse.kept) == set(paths) - {changed}
    # What the incremental pass asks of the record's objects, it asks of the
    # kept objects instead.
    for name in reuse.kept:
        assert (name in reuse.kept_objects) == (name in record.objects)
