"""Settings that make a deploy impossible, found without the network: shared
by the system checks and the storage, which refuses to start a deploy."""

from __future__ import annotations

import difflib
from typing import Any

from django.conf import settings

from .errors import setting_reference


def configured_location(storage_class: type, options: dict[str, Any]) -> str:
    """``location`` as django-storages resolves it: ``OPTIONS``, else a class
    attribute, else ``AWS_LOCATION``."""
    if "location" in options:
        return str(options["location"])
    for klass in storage_class.__mro__:
        if "location" in vars(klass):
            return str(vars(klass)["location"])
    return str(getattr(settings, "AWS_LOCATION", ""))


def location_problem(location: str, alias: str = "staticfiles") -> str | None:
    if location.startswith("/"):
        return (
            f"{setting_reference('location', alias)} = {location!r} begins with a "
            f"slash; S3 keys are relative. Use {location.lstrip('/')!r}."
        )
    return None


def bucket_problem(bucket_name: str | None, alias: str = "staticfiles") -> str | None:
    if not bucket_name:
        return (
            f"No bucket to publish to: set {setting_reference('bucket_name', alias)}."
        )
    return None


def unknown_option_problem(
    options: dict[str, Any], known: dict[str, Any], class_name: str
) -> str | None:
    """django-storages' "Invalid setting" as one line naming the key, with a
    suggestion when the key is close to a known option."""
    from .options import OWN_OPTIONS

    unknown = sorted(set(options) - set(known))
    if not unknown:
        return None
    key = unknown[0]
    close = difflib.get_close_matches(key, [*known, *OWN_OPTIONS], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{setting_reference(key)}: {class_name} has no option {key!r}.{hint}"
