"""The publish plan, as pure logic."""

from __future__ import annotations

import pytest

from django_s3_manifest_storage.plan import StagedFileMissing, plan_publish

LOCAL = {
    "css/site.css": "css/site.222.css",
    "img/bg.png": "img/bg.333.png",
    "js/app.js": "js/app.111.js",
}
STAGED = {*LOCAL, *LOCAL.values(), "staticfiles.json"}


def plan(remote: dict[str, str] | None, *, staged=STAGED, local=LOCAL, same=False):
    return plan_publish(
        staged=staged,
        local_paths=local,
        remote_paths=remote,
        manifest_name="staticfiles.json",
        manifest_unchanged=same,
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
