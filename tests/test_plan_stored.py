"""Publishing after a full hashing pass, from how the two releases' records
say their objects are stored: pure logic."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_s3_manifest_storage.planning.fingerprint import parameter_set_key
from django_s3_manifest_storage.planning.record import (
    ReleaseRecord,
    StoredObjects,
    StoredObjectsBuilder,
    UnreadableRecord,
    record_text,
)
from django_s3_manifest_storage.planning.stored import plan_from_record

PATHS = {"css/site.css": "css/site.222.css", "img/bg.png": "img/bg.333.png"}
OBJECTS = (
    "css/site.css",
    "css/site.222.css",
    "css/site.222.css.gz",
    "img/bg.png",
    "img/bg.333.png",
)
LONG = parameter_set_key({"CacheControl": "immutable"}, gzip=False)
SHORT = parameter_set_key({"CacheControl": "no-cache"}, gzip=False)
DIGESTS = {"css/site.css": "d1", "css/site.222.css.gz": "d2", "img/bg.png": "d3"}


def stored(
    digests: dict[str, str] = DIGESTS, parameters: dict[str, str] | None = None
) -> StoredObjects:
    builder = StoredObjectsBuilder()
    for name in OBJECTS:
        default = SHORT if name in PATHS else LONG
        builder.add(name, (parameters or {}).get(name, default), digests.get(name))
    return builder.build()


def plan(deployed: StoredObjects, current: StoredObjects, **overrides: object):
    arguments: dict[str, object] = {
        "staged": {*OBJECTS, "staticfiles.json"},
        "local_paths": PATHS,
        "deployed_paths": PATHS,
        "deployed": deployed,
        "current": current,
        "manifest_name": "staticfiles.json",
        "manifest_unchanged": False,
        **overrides,
    }
    return plan_from_record(**arguments)  # type: ignore[arg-type]


def test_the_same_objects_send_only_the_manifest() -> None:
    result = plan(stored(), stored())

    assert result.waves == (("staticfiles.json",),)
    assert result.headers == ()
    assert result.unchanged == len(OBJECTS)


def test_changed_bytes_of_unhashed_names_and_variants_are_uploaded() -> None:
    current = stored({**DIGESTS, "css/site.css": "new", "css/site.222.css.gz": "x"})

    result = plan(stored(), current)

    assert result.immutable == ("css/site.222.css.gz",)
    assert result.originals == ("css/site.css",)
    assert result.unchanged == len(OBJECTS) - 2


def test_new_parameters_update_in_place_in_their_wave() -> None:
    current = stored(parameters=dict.fromkeys(OBJECTS, SHORT))

    result = plan(stored(), current)

    assert result.immutable == result.originals == ()
    # Hashed names first, then originals (already SHORT: unchanged).
    assert result.immutable_headers == (
        "css/site.222.css",
        "css/site.222.css.gz",
        "img/bg.333.png",
    )
    assert result.original_headers == ()
    assert [stage[1] for stage in result.stages][:1] == [result.immutable_headers]
    assert result.unchanged == 2


@pytest.mark.parametrize(
    "new_parameters",
    [
        parameter_set_key({"CacheControl": "immutable"}, gzip=True),
        parameter_set_key({"SSECustomerKey": "k"}, gzip=False),
    ],
    ids=["gzip changes the bytes", "a copy cannot carry SSE-C"],
)
def test_parameters_a_copy_cannot_give_mean_an_upload(new_parameters: str) -> None:
    current = stored(parameters={"img/bg.333.png": new_parameters})

    result = plan(stored(), current)

    assert result.immutable == ("img/bg.333.png",)
    assert result.headers == ()


def test_objects_the_deployed_release_lacks_or_s3_lost_are_uploaded() -> None:
    builder = StoredObjectsBuilder()
    builder.add("img/bg.png", SHORT, "d3")
    builder.add("img/bg.333.png", LONG, None)

    result = plan(builder.build(), stored(), remote_names={"img/bg.png"})

    assert set(result.immutable) == {
        "css/site.222.css",
        "css/site.222.css.gz",
        "img/bg.333.png",
    }
    assert result.originals == ("css/site.css",)
    assert result.unchanged == 1


def test_a_record_round_trips_with_one_entry_per_parameter_set() -> None:
    record = ReleaseRecord({"a": "1"}, {}, OBJECTS, stored())

    document = json.loads(record.encode())
    decoded = ReleaseRecord.decode(record.encode())

    assert document["version"] == 2
    assert len(document["stored"]["parameter_sets"]) == 2
    assert decoded == ReleaseRecord({"a": "1"}, {}, tuple(sorted(OBJECTS)), stored())


@given(
    st.dictionaries(st.text(max_size=6), st.text(max_size=4), max_size=5),
    st.dictionaries(
        st.text(max_size=6), st.lists(st.text(max_size=6), max_size=3), max_size=3
    ),
    st.lists(st.sampled_from(OBJECTS), unique=True),
)
def test_a_record_written_in_sections_is_the_one_document_json_gives(
    sources: dict[str, str], references: dict[str, list[str]], objects: list[str]
) -> None:
    """The record is written a section at a time; its bytes (and so its
    digest in the stamp) are those of the whole document dumped at once."""
    builder = StoredObjectsBuilder()
    for index, name in enumerate(objects):
        builder.add(name, SHORT if index % 2 else LONG, None if index % 3 else "d")
    stored_objects = builder.build()
    record = ReleaseRecord(
        sources,
        {name: tuple(targets) for name, targets in references.items()},
        tuple(objects),
        stored_objects,
    )
    ordered = sorted(objects)
    document = {
        "version": 2,
        "sources": dict(sorted(sources.items())),
        "references": {
            name: sorted(targets) for name, targets in sorted(references.items())
        },
        "objects": ordered,
        "stored": {
            "parameter_sets": list(stored_objects.parameter_sets),
            "parameters": [stored_objects.parameters[name] for name in ordered],
            "digests": dict(sorted(stored_objects.digests.items())),
        },
    }

    assert record.encode() == json.dumps(document, separators=(",", ":")).encode()


def test_a_version_1_record_still_reads_without_stored_objects() -> None:
    body = json.dumps(
        {"version": 1, "sources": {"a": "1"}, "references": {}, "objects": ["a"]}
    ).encode()

    assert ReleaseRecord.decode(body) == ReleaseRecord({"a": "1"}, {}, ("a",), None)


@pytest.mark.parametrize(
    "stored_document",
    [None, {"parameter_sets": ["x"], "parameters": [3], "digests": {}}],
)
def test_a_damaged_version_2_record_is_unreadable(stored_document: object) -> None:
    body = json.dumps(
        {
            "version": 2,
            "sources": {},
            "references": {},
            "objects": ["a"],
            "stored": stored_document,
        }
    ).encode()

    with pytest.raises(UnreadableRecord):
        ReleaseRecord.decode(body)


def test_a_record_decodes_the_same_from_its_text() -> None:
    objects = ("a.111.css", "a.css", "b.222.png", "b.png")  # as encoded: sorted
    builder = StoredObjectsBuilder()
    for name in objects:
        builder.add(name, LONG if ".1" in name or ".2" in name else SHORT, None)
    record = ReleaseRecord(
        {"a.css": "1", "b.png": "2"}, {"a.css": ("b.png",)}, objects, builder.build()
    )
    body = record.encode()

    assert ReleaseRecord.decode(record_text(body)) == record
    assert ReleaseRecord.decode(body) == record


def test_a_record_that_is_not_text_is_unreadable() -> None:
    with pytest.raises(UnreadableRecord, match="not JSON"):
        record_text(b'{"version": 2, "sources": {"\xff": "1"}}')


def test_parameter_set_keys_hold_no_parameter_value() -> None:
    key = parameter_set_key({"SSECustomerKey": "secret-key"}, gzip=False)

    assert "secret" not in key
    assert key.startswith("plain+put:")
