"""S3 URLs while a run hashes: django-storages' strings, without botocore's
request pipeline for each one.

Django's hashing asks ``url()`` for every reference it rewrites (and keeps
the URL's last segment). Without ``custom_domain``, django-storages builds
each URL as a presigned, unsigned ``get_object`` request through botocore:
about 0.1 ms each, a fifth of the Python time of a first deploy of a
collection rich in CSS. That URL is the bucket's URL followed by the key,
percent-encoded as botocore encodes a key (``percent_encode``, keeping ``/``
and ``~``). So a run asks botocore for two probes, one plain and one that
needs escaping, and when both match, joins the rest itself. Anything else
(signed URLs, a custom domain, extra parameters, names that are not clean,
another thread, run time) goes to django-storages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.utils import percent_encode

from .planning.names import is_clean

if TYPE_CHECKING:
    from django.core.files.storage import Storage

    from .collect.run import CollectRun

    StorageBase = Storage
else:
    StorageBase = object

# A plain name, then one with what references carry: a query, spaces,
# accents, punctuation.
PROBES = ("url-probe", "url probe/caf\u00e9@x+y~z.png?t=1&v=%20")


class RunModeURLs(StorageBase):
    """A mixin for the storage class, after Django's hashing mixins and
    before the S3 storage in its MRO: the ``super().url()`` of the hashing."""

    _run: CollectRun | None
    _url_base: tuple[CollectRun, str | None] | None = None

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        """django-storages' ``url(name, parameters, expire, http_method)``."""
        run = self._run
        if (
            run is not None
            and run.post_processing
            and name is not None
            and not any(args)
            and not any(kwargs.values())
            and run.belongs_to_this_thread()
        ):
            base = self._base_url(run)
            if base is not None and is_clean(name):
                return base + encoded_key(self.object_key(name))  # type: ignore[attr-defined]
        url: str = super().url(name, *args, **kwargs)
        return url

    def _base_url(self, run: CollectRun) -> str | None:
        """The URL before the key, from django-storages' URLs of the probes,
        once per run; None when its URLs are not base + encoded key (signed,
        or a custom domain, whose URLs django-storages builds cheaply)."""
        cached = self._url_base
        if cached is not None and cached[0] is run:
            return cached[1]
        base = None
        if not getattr(self, "querystring_auth", True) and not getattr(
            self, "custom_domain", None
        ):
            plain = self.object_key(PROBES[0])  # type: ignore[attr-defined]
            url: str = super().url(PROBES[0])
            if url.endswith("/" + plain) and not urlsplit(url).query:
                base = url[: -len(plain)]
                for probe in PROBES[1:]:
                    key = self.object_key(probe)  # type: ignore[attr-defined]
                    if super().url(probe) != base + encoded_key(key):
                        base = None
                        break
        self._url_base = (run, base)
        return base


def encoded_key(key: str) -> str:
    """The key as botocore writes it in a URL path (a greedy ``{Key+}``)."""
    encoded: str = percent_encode(key, safe="/~")
    return encoded
