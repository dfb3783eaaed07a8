"""Fingerprints that let a redeploy skip work when nothing changed.

The *sources* fingerprint covers every input of post-processing: each source
file's name and bytes, plus the context that shapes the output (see
``collect.hashing.collection_context``). When it equals the one stored with the
deployed manifest, hashing would produce the deployed manifest again, so it
is skipped.

The *parameters* digests cover the upload parameters of every name in the
collection, one digest per parameter, so a changed Cache-Control (say)
re-uploads objects even when no file changed, and the summary can say which.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import IO, Any

from .stamp import encode_parts

CHUNK_SIZE = 1024 * 1024


def content_digest(stream: IO[bytes]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
    return digest.hexdigest()


def sources_fingerprint(
    file_digests: Iterable[tuple[str, str]], context: Mapping[str, str]
) -> str:
    """Combine ``(name, content digest)`` pairs and the context, order-free."""
    fingerprint = hashlib.sha256(encode_parts(context).encode())
    for name, digest in sorted(file_digests):
        fingerprint.update(f"\0{name}\0{digest}".encode())
    return fingerprint.hexdigest()


def parameters_digests(
    parameters_by_name: Iterable[tuple[str, Mapping[str, Any]]],
) -> dict[str, str]:
    """One digest per parameter (``CacheControl``...) over every name."""
    return digest_lines(
        (name, parameter_lines(parameters)) for name, parameters in parameters_by_name
    )


ParameterLines = tuple[tuple[str, str], ...]


def parameter_lines(parameters: Mapping[str, Any]) -> ParameterLines:
    """``(parameter, what its digest takes after the name)`` for each of
    ``parameters``: the same for every name stored with them, so a deploy
    makes them once per distinct set of parameters, not once per name."""
    # repr: stable for the str/dict values parameters hold.
    return tuple((key, f"\0{value!r}") for key, value in parameters.items())


def digest_lines(lines_by_name: Iterable[tuple[str, ParameterLines]]) -> dict[str, str]:
    """``parameters_digests`` from each name's ``parameter_lines``."""
    return digest_sorted_lines(sorted(lines_by_name, key=itemgetter(0)))


def digest_sorted_lines(
    lines_by_name: Iterable[tuple[str, ParameterLines]],
) -> dict[str, str]:
    """``digest_lines`` of names given in sorted order: the caller sorts the
    names alone (at 100,000 names, a sorted list of pairs is megabytes)."""
    digests: dict[str, Any] = {}
    for name, lines in lines_by_name:
        prefix = f"\0{name}"
        for key, tail in lines:
            digest = digests.get(key)
            if digest is None:
                digest = digests[key] = hashlib.sha256()
            digest.update((prefix + tail).encode())
    return {key: digest.hexdigest()[:16] for key, digest in digests.items()}


# Parameters that a server-side copy cannot reproduce: those about the
# request's body, and SSE-C (copying needs the key the bytes were sealed with).
NOT_COPYABLE_PREFIXES = ("SSECustomer", "Checksum", "ContentMD5")


def parameter_set_key(parameters: Mapping[str, Any], *, gzip: bool) -> str:
    """One object's upload parameters as an opaque key, equal for equal
    parameters, so a record never holds a parameter's value (an SSE-C key,
    say): ``<form>:<digest>``. The form says how the bytes are stored
    (``gzip`` or ``plain``: gzip changes them, which a copy cannot) and
    whether a copy can give an object these parameters (``+put``: no)."""
    canonical = json.dumps(parameters, sort_keys=True, default=repr)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    form = "gzip" if gzip else "plain"
    if any(key.startswith(NOT_COPYABLE_PREFIXES) for key in parameters):
        form += "+put"
    return f"{form}:{digest}"


def updatable_in_place(before: str, after: str) -> bool:
    """Whether an object stored with the parameter set ``before`` can get
    ``after`` with a copy onto itself: its bytes stay as stored."""
    form = before.partition(":")[0]
    return form == after.partition(":")[0] and not form.endswith("+put")
