"""What to send after a full hashing pass, from how the deployed release's
objects are stored (its record, version 2): pure logic, no I/O.

When the context changed (a Django patch release, another version of this
package or of whitenoise, a hashing setting) or the upload parameters did,
the deployed manifest alone cannot say which objects S3 holds as they
should be. The two releases' records can. An object of the new collection is:

* **uploaded** when the deployed release has no object of that name (or,
  with a listing, S3 lost it), or its bytes differ, or it is gzipped where
  it was not (or the reverse: the stored bytes differ), or its parameters
  differ in a way a copy cannot carry (SSE-C);
* **updated in place** (its headers, with a server-side copy) when only its
  upload parameters differ;
* **unchanged** otherwise.

Bytes: a name both releases hash is content-addressed, so its bytes are
equal; every other object (originals, compressed variants, whose bytes a new
whitenoise may compress differently) is compared by its recorded digest.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Set

from .delta import PublishPlan, StagedFileMissing
from .fingerprint import updatable_in_place
from .names import is_hashed, iter_collection_names
from .record import StoredObjects


def plan_from_record(
    *,
    staged: Collection[str],
    local_paths: Mapping[str, str],
    deployed_paths: Mapping[str, str],
    deployed: StoredObjects,
    current: StoredObjects,
    manifest_name: str,
    manifest_unchanged: bool,
    remote_names: Collection[str] | None = None,
    hashed_names: Set[str] | None = None,
) -> PublishPlan:
    """The uploads and in-place updates that make S3 serve the local
    collection; arguments as for ``delta.plan_publish``, with the deployed
    release's and this one's stored objects."""
    if hashed_names is None:
        hashed_names = set(local_paths.values())
    missing = {name for name in hashed_names if name not in staged}
    if missing:
        raise StagedFileMissing(missing)
    deployed_hashed = set(deployed_paths.values())
    uploads: set[str] = set()
    headers: set[str] = set()
    objects_in_collection = 0
    for name in iter_collection_names(staged, local_paths, hashed_names):
        objects_in_collection += 1
        before = deployed.parameter_set(name)
        after = current.parameter_set(name)
        if (
            before is None
            or (remote_names is not None and name not in remote_names)
            or not _same_bytes(name, hashed_names, deployed_hashed, deployed, current)
            or after is None
            or (before != after and not updatable_in_place(before, after))
        ):
            uploads.add(name)
        elif before != after:
            headers.add(name)
    immutable = {name for name in uploads if is_hashed(name, hashed_names)}
    immutable_headers = {name for name in headers if is_hashed(name, hashed_names)}
    return PublishPlan(
        immutable=tuple(sorted(immutable)),
        originals=tuple(sorted(uploads - immutable)),
        manifest=None if manifest_unchanged else manifest_name,
        unchanged=objects_in_collection - len(uploads) - len(headers),
        immutable_headers=tuple(sorted(immutable_headers)),
        original_headers=tuple(sorted(headers - immutable_headers)),
    )


def _same_bytes(
    name: str,
    hashed_names: Collection[str],
    deployed_hashed: Collection[str],
    deployed: StoredObjects,
    current: StoredObjects,
) -> bool:
    if name in hashed_names and name in deployed_hashed:
        return True
    digest = current.digests.get(name)
    return digest is not None and deployed.digests.get(name) == digest
