"""Map S3 URLs back to the form Django's tests expect.

Storages under test build URLs on ``https://<CUSTOM_DOMAIN>/<LOCATION>/``;
the ``{% static %}`` tag (every URL assertion in test_storage.py goes through
it) gives ``STATIC_URL`` + the rest instead. A URL that does not start with
that base is left as it is, so a wrong domain or location still fails the
test. The storage itself is not touched.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.templatetags.static import StaticNode

from .s3 import CUSTOM_DOMAIN, LOCATION

S3_BASE = f"https://{CUSTOM_DOMAIN}/{LOCATION}/"


def to_static_url(url: str) -> str:
    if url.startswith(S3_BASE):
        return f"{settings.STATIC_URL}{url.removeprefix(S3_BASE)}"
    return url


def translate_static_tag() -> None:
    handle_simple = StaticNode.handle_simple.__func__  # type: ignore[attr-defined]

    def translated(cls: Any, path: str) -> str:
        return to_static_url(handle_simple(cls, path))

    StaticNode.handle_simple = classmethod(translated)  # type: ignore[method-assign, assignment]
