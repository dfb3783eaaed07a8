"""docs/configuration.md against the code: every option the storage accepts
has a row, every row is an option, each setting a row names sets that option,
and each default written as a Python value is the default the code uses."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import global_settings
from django.test import override_settings

from django_s3_manifest_storage import ManifestSyncS3Storage
from django_s3_manifest_storage.options import OWN_OPTIONS

PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
OWN_SECTION = "## This package's options"
STORAGES_SECTION = "## django-storages' options"
ROW = re.compile(r"^\| `(?P<option>\w+)` \| (?P<default>.*?) \| (?P<setting>.*?) \| ")


def rows(section: str) -> dict[str, tuple[str, list[str]]]:
    """option -> (default as written, setting names) of the table under
    ``section``."""
    text = PAGE.read_text()
    start = text.index(section)
    following = text.find("\n## ", start + len(section))
    table: dict[str, tuple[str, list[str]]] = {}
    for line in text[start : following if following != -1 else None].splitlines():
        match = ROW.match(line)
        if match:
            option = match["option"]
            assert option not in table, f"{option} has two rows"
            settings = re.findall(r"`(\w+)`", match["setting"])
            table[option] = (match["default"], settings)
    return table


def literal(default: str) -> tuple[bool, Any]:
    """(True, value) for a default written as one Python literal in backticks."""
    match = re.fullmatch(r"`([^`]+)`", default)
    if not match:
        return False, None
    try:
        return True, ast.literal_eval(match[1])
    except (ValueError, SyntaxError):
        return False, None


@pytest.fixture(scope="module")
def storage() -> ManifestSyncS3Storage:
    return ManifestSyncS3Storage()


def test_every_own_option_has_a_row_and_every_row_is_an_option() -> None:
    assert sorted(rows(OWN_SECTION)) == sorted(OWN_OPTIONS)


def test_every_django_storages_option_has_a_row_and_every_row_is_an_option(
    storage: ManifestSyncS3Storage,
) -> None:
    accepted = set(storage.get_default_settings())
    assert sorted(rows(STORAGES_SECTION)) == sorted(accepted)


def test_each_setting_named_sets_its_option(storage: ManifestSyncS3Storage) -> None:
    checked = 0
    for option, (_, names) in rows(STORAGES_SECTION).items():
        assert names, f"{option} names no setting"
        for name in names:
            sentinel = object()
            with override_settings(**{name: sentinel}):
                assert storage.get_default_settings()[option] is sentinel, (
                    f"{name} does not set {option}"
                )
            checked += 1
    assert checked >= len(rows(STORAGES_SECTION))


def test_own_options_name_only_django_settings() -> None:
    for option, (_, names) in rows(OWN_SECTION).items():
        for name in names:
            assert hasattr(global_settings, name), f"{option}: {name} is no setting"


def test_defaults_written_as_values_are_the_codes_defaults(
    storage: ManifestSyncS3Storage,
) -> None:
    compared = []
    for section, holder in (
        (OWN_SECTION, storage.sync_options),
        (STORAGES_SECTION, storage),
    ):
        for option, (default, _) in rows(section).items():
            is_literal, value = literal(default)
            if is_literal:
                assert getattr(holder, option) == value, f"{option}: {default}"
                compared.append(option)
    # Most defaults are plain values; the rest are described in words.
    assert len(compared) >= len(OWN_OPTIONS)
