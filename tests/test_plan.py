"""The publish plan, as pure logic."""

from __future__ import annotations

import pytest

from django_s3_manifest_storage.planning.delta import (
    StagedFileMissing,
    plan_deletions,
    plan_publish,
)
from django_s3_manifest_storage.planning.names import is_hashed
from django_s3_manifest_storage.releases.history import history_name, newest_history

LOCAL = {
    "css/site.css": "css/site.222.css",
    "img/bg.png": "img/bg.333.png",
    "js/app.js": "js/app.111.js",
}
STAGED = {*LOCAL, *LOCAL.values(), "staticfiles.json"}


def plan(
    remote: dict[str, str] | None,
    *,
    staged=STAGED,
    local=LOCAL,
    same=False,
    remote_names=None,
):
    return plan_publish(
        staged=staged,
        local_paths=local,
        remote_paths=remote,
        manifest_name="staticfiles.json",
        manifest_unchanged=same,
        remote_names=remote_names,
    )


def test_first_deploy_uploads_hashed_then_originals_then_manifest() -> None:
    result = plan(None)
    assert result.waves == (
        ("css/site.222.css", "img/bg.333.png", "js/app.111.js"),
        ("css/site.css", "img/bg.png", "js/app.js"),
        ("staticfiles.json",),
    )
    assert result.unchanged == 0


def test_nothing_changed_plans_nothing() -> None:
    result = plan(dict(LOCAL), same=True)
    assert result.waves == ()
    assert result.unchanged == 6


def test_changed_file_uploads_its_names_only() -> None:
    remote = {**LOCAL, "css/site.css": "css/site.000.css"}
    result = plan(remote)
    assert result.immutable == ("css/site.222.css",)
    assert result.originals == ("css/site.css",)
    assert result.manifest == "staticfiles.json"
    assert result.unchanged == 4


def test_compressed_variants_follow_their_file() -> None:
    staged = STAGED | {
        "js/app.111.js.gz",
        "js/app.111.js.br",
        "js/app.js.gz",
        "img/bg.333.png.gz",
    }
    remote = {**LOCAL, "js/app.js": "js/app.000.js"}
    result = plan(remote, staged=staged)
    assert result.immutable == ("js/app.111.js", "js/app.111.js.br", "js/app.111.js.gz")
    assert result.originals == ("js/app.js", "js/app.js.gz")
    assert result.unchanged == 5


def test_originals_absent_locally_are_not_uploaded() -> None:
    staged = {*LOCAL.values(), "staticfiles.json"}  # whitenoise keep-only-hashed
    result = plan(None, staged=staged)
    assert result.originals == ()
    assert len(result.immutable) == 3


def test_a_hashed_file_missing_from_staging_is_an_error() -> None:
    with pytest.raises(StagedFileMissing, match=r"img/bg\.333\.png"):
        plan(None, staged=STAGED - {"img/bg.333.png"})


def test_stale_files_outside_the_manifest_are_ignored() -> None:
    result = plan(dict(LOCAL), staged=STAGED | {"css/site.old.css"}, same=True)
    assert result.waves == ()


def test_a_file_renamed_back_to_a_deployed_hash_is_not_uploaded_again() -> None:
    # The deployed manifest already names img/bg.333.png (e.g. a revert).
    remote = {**LOCAL, "img/bg.png": "img/bg.999.png", "img/old.png": "img/bg.333.png"}
    result = plan(remote)
    assert result.immutable == ()
    assert result.originals == ("img/bg.png",)


# With a listing of the bucket (verify_remote, --clear, retention) ------------


def test_a_listing_that_holds_everything_changes_nothing() -> None:
    result = plan(dict(LOCAL), same=True, remote_names=STAGED)
    assert result.waves == ()
    assert result.unchanged == 6


def test_a_hashed_file_s3_lost_is_uploaded_again() -> None:
    result = plan(dict(LOCAL), same=True, remote_names=STAGED - {"img/bg.333.png"})
    assert result.immutable == ("img/bg.333.png",)
    assert result.originals == ()
    assert result.manifest is None
    assert result.unchanged == 5


def test_an_original_s3_lost_is_uploaded_again() -> None:
    result = plan(dict(LOCAL), same=True, remote_names=STAGED - {"js/app.js"})
    assert result.immutable == ()
    assert result.originals == ("js/app.js",)
    assert result.unchanged == 5


def test_compressed_variants_s3_lost_are_uploaded_again_in_their_wave() -> None:
    variants = {"js/app.111.js.gz", "js/app.js.br", "css/site.222.css.gz"}
    staged = STAGED | variants
    remote_names = staged - {"js/app.111.js.gz", "js/app.js.br"}
    result = plan(dict(LOCAL), staged=staged, same=True, remote_names=remote_names)
    assert result.immutable == ("js/app.111.js.gz",)
    assert result.originals == ("js/app.js.br",)
    assert result.unchanged == 7


def test_a_lost_variant_of_a_file_outside_the_manifest_is_ignored() -> None:
    staged = STAGED | {"robots.txt.gz"}
    result = plan(dict(LOCAL), staged=staged, same=True, remote_names=STAGED)
    assert result.waves == ()


def test_a_listing_without_the_deployed_manifests_files_uploads_them_all() -> None:
    result = plan(dict(LOCAL), remote_names={"staticfiles.json"})
    assert result.immutable == tuple(sorted(LOCAL.values()))
    assert result.originals == tuple(sorted(LOCAL))
    assert result.manifest == "staticfiles.json"
    assert result.unchanged == 0


# Hashed names -----------------------------------------------------------------

HASHED = frozenset(LOCAL.values())


@pytest.mark.parametrize(
    ("name", "hashed"),
    [
        ("js/app.111.js", True),
        ("js/app.111.js.gz", True),
        ("js/app.111.js.br", True),
        ("js/app.js", False),
        ("js/app.js.gz", False),
        ("js/app.111.js.map", False),
        ("js/app.111.js.gz.gz", False),
        ("js/app.111", False),
        ("README", False),
    ],
)
def test_is_hashed(name: str, hashed: bool) -> None:
    assert is_hashed(name, HASHED) is hashed


# Deletions --------------------------------------------------------------------


def test_deletions_are_what_no_kept_release_references() -> None:
    live = {"css/site.css": "css/site.222.css", "js/app.js": "js/app.111.js"}
    previous = {"css/site.css": "css/site.000.css", "js/app.js": "js/app.111.js"}
    present = {
        *live,
        *live.values(),
        "css/site.000.css",
        "css/site.999.css",
        "css/gone.css",
        "staticfiles.json",
    }

    assert plan_deletions(
        present=present, kept_releases=[live], protected={"staticfiles.json"}
    ) == ("css/gone.css", "css/site.000.css", "css/site.999.css")
    assert plan_deletions(
        present=present, kept_releases=[live, previous], protected={"staticfiles.json"}
    ) == ("css/gone.css", "css/site.999.css")


def test_deletions_spare_compressed_variants_of_referenced_names() -> None:
    live = {"js/app.js": "js/app.111.js"}
    present = {
        "js/app.js",
        "js/app.js.gz",
        "js/app.111.js",
        "js/app.111.js.br",
        "js/app.000.js",
        "js/app.000.js.gz",
        "js/app.111.js.map",
    }

    assert plan_deletions(present=present, kept_releases=[live], protected=()) == (
        "js/app.000.js",
        "js/app.000.js.gz",
        "js/app.111.js.map",
    )


def test_deletions_spare_protected_names() -> None:
    present = {"staticfiles.json", "staticfiles.json.history/a.json", "old.css"}

    assert plan_deletions(
        present=present,
        kept_releases=[{}],
        protected={"staticfiles.json", "staticfiles.json.history/a.json"},
    ) == ("old.css",)
    assert plan_deletions(present=present, kept_releases=[{}], protected=()) == (
        "old.css",
        "staticfiles.json",
        "staticfiles.json.history/a.json",
    )


def test_nothing_present_nothing_deleted() -> None:
    assert plan_deletions(present=(), kept_releases=[LOCAL], protected=()) == ()


# Manifest copies -----------------------------------------------------------------


def test_history_name_sorts_by_time_and_carries_the_manifest_hash() -> None:
    digest = "0123456789abcdef" * 4
    earlier = history_name("staticfiles.json", "20261128T210056123456Z", digest)
    later = history_name("staticfiles.json", "20261128T210057000001Z", "f" * 64)

    assert earlier == (
        "staticfiles.json.history/20261128T210056123456Z-0123456789ab.json"
    )
    assert earlier < later


def test_newest_history_picks_the_newest_copies_of_this_manifest() -> None:
    copies = [
        history_name("staticfiles.json", f"2026112{day}T000000000000Z", "a" * 64)
        for day in range(1, 6)
    ]
    present = {
        *copies,
        "staticfiles.json",
        "css/site.css",
        history_name("other.json", "20261130T000000000000Z", "b" * 64),
        "staticfiles.json.history-not/20261130T000000000000Z-bbbbbbbbbbbb.json",
    }

    assert newest_history(present, "staticfiles.json", 2) == [copies[4], copies[3]]
    assert newest_history(present, "staticfiles.json", 10) == copies[::-1]
    assert newest_history(present, "other.json", 3) == [
        "other.json.history/20261130T000000000000Z-bbbbbbbbbbbb.json"
    ]
    assert newest_history({"staticfiles.json"}, "staticfiles.json", 2) == []
