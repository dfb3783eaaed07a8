"""``manage.py staticreleases``: list the kept releases, verify the live one,
roll back to a kept one."""

from __future__ import annotations

from typing import Any

from django.conf import STATICFILES_STORAGE_ALIAS
from django.core.checks import Tags
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...errors import ReleaseRefused, SettingError, setting_reference
from ...options import bucket_problem
from ...releases.history import history_directory
from ...releases.model import (
    KeptRelease,
    ReleaseContents,
    release_contents,
    select_release,
    shown_names,
)
from ...releases.rollback import publish_release
from ...releases.store import ReleaseStore, StoredReleases
from ...storage import ManifestSyncS3Storage


class Command(BaseCommand):
    # As collectstatic: a deploy job must not fail on another app's check.
    requires_system_checks = (Tags.staticfiles,)
    help = (
        "List the static file releases kept on S3 (keep_releases), check that "
        "the live one is complete (--verify), or make a kept one live again "
        "(--rollback)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--verify",
            action="store_true",
            help="Check that S3 holds every file the live manifest names; exit "
            "with status 1 naming the missing ones.",
        )
        action.add_argument(
            "--rollback",
            nargs="?",
            const="-1",
            metavar="ID|-N",
            help="Make a kept release live again: its id as listed, or -N for "
            "the Nth release before the live one (default -1, the previous one).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="With --rollback: check the release and say what would happen.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = int(options["verbosity"])
        if options["dry_run"] and options["rollback"] is None:
            raise CommandError("--dry-run applies to --rollback only.")
        storage = static_files_storage()
        store = release_store(storage)
        if options["verify"]:
            self.verify(store)
        elif options["rollback"] is not None:
            dry_run = options["dry_run"]
            if self.rollback(store, options["rollback"], dry_run=dry_run):
                self.after_rollback(storage)
        else:
            self.list_releases(store)

    # Listing ---------------------------------------------------------------

    def list_releases(self, store: ReleaseStore) -> None:
        stored = store.read()
        if not stored.releases:
            self.stdout.write(f"No releases are kept in {store.url}.")
            if stored.live is not None:
                self.stdout.write(
                    f"The live manifest: {self.describe_live(store, stored)}."
                )
            self.stdout.write(no_history_hint(store))
            return
        self.stdout.write(f"Releases kept in {store.url}, newest first:")
        self.stdout.write(
            f"  {'id':<35}  {'published (UTC)':<19}  {'files':>6}  {'bytes':>13}  state"
        )
        live = stored.live_release
        for release in stored.releases:
            try:
                manifest = store.read_release(release)
            except ReleaseRefused as problem:
                self.stdout.write(row(release, None, "unreadable"))
                self.stdout.write(f"    {problem}")
                continue
            contents = release_contents(
                manifest.paths, stored.sizes, originals=manifest.originals
            )
            self.stdout.write(row(release, contents, state(release, stored, contents)))
            if self.verbosity >= 2:
                for name in contents.missing:
                    self.stdout.write(f"    missing {store.url_of(name)}")
        if stored.live is None:
            self.stdout.write(f"No manifest is live at {store.url}.")
        elif live is None:
            self.stdout.write(
                f"The live manifest is none of these: {self.describe_live(store, stored)}."
            )
        self.stdout.write(
            "Roll back with --rollback -1 (the release before the live one) or "
            "--rollback ID."
        )

    def describe_live(self, store: ReleaseStore, stored: StoredReleases) -> str:
        assert stored.live is not None
        name = f"sha256 {stored.live_digest}"
        try:
            paths = store.live_paths(stored)
        except CommandError:
            return f"{name}, not a usable manifest"
        contents = release_contents(
            paths, stored.sizes, originals=stored.live_originals
        )
        missing = (
            f"{len(contents.missing)} missing" if contents.missing else "all present"
        )
        return f"{name}, {contents.files} files ({contents.bytes:,} bytes), {missing}"

    # Verifying -------------------------------------------------------------

    def verify(self, store: ReleaseStore) -> None:
        stored = store.read()
        paths = store.live_paths(stored)
        contents = release_contents(
            paths, stored.sizes, originals=stored.live_originals
        )
        live = stored.live_release
        name = live.id if live else f"sha256 {stored.live_digest}"
        if contents.missing:
            raise CommandError(
                "\n".join(
                    [
                        f"The live release ({name}) names {len(contents.missing)} "
                        f"object(s) that {store.url} lacks:",
                        *(
                            f"  {line}"
                            for line in shown_names(
                                [store.url_of(missing) for missing in contents.missing]
                            )
                        ),
                        "Deploy again with "
                        f"{setting_reference('verify_remote')} = True to upload "
                        "them, or roll back to a complete release.",
                    ]
                )
            )
        self.stdout.write(
            f"The live release ({name}) is complete: {contents.files} files "
            f"({contents.bytes:,} bytes) in {store.url}."
        )

    # Rolling back ----------------------------------------------------------

    def rollback(
        self, store: ReleaseStore, selector: str, *, dry_run: bool
    ) -> str | None:
        """Roll back, or say what would happen; return the new history copy."""
        stored = store.read()
        if not stored.releases:
            raise ReleaseRefused(
                f"No releases are kept in {store.url}: there is nothing to roll "
                f"back to. {no_history_hint(store)}"
            )
        release = select_release(stored.releases, selector, stored.live_digest)
        if release.digest == stored.live_digest:
            self.stdout.write(f"Release {release.id} is already live; nothing to do.")
            return None
        manifest = store.read_release(release)
        contents = release_contents(
            manifest.paths, stored.sizes, originals=manifest.originals
        )
        if contents.missing:
            raise ReleaseRefused(
                "\n".join(
                    [
                        f"Refusing to roll back to release {release.id}: "
                        f"{store.url} lacks {len(contents.missing)} of its files:",
                        *(
                            f"  {line}"
                            for line in shown_names(
                                [store.url_of(missing) for missing in contents.missing]
                            )
                        ),
                        "The live manifest was left unchanged.",
                    ]
                )
            )
        live = stored.live_release
        replacing = (
            f"release {live.id}"
            if live
            else f"the manifest sha256 {stored.live_digest}"
            if stored.live
            else "no live manifest"
        )
        published = f"{release.published_at:%Y-%m-%d %H:%M:%S} UTC"
        summary = (
            f"release {release.id} (published {published}, {contents.files} "
            f"files, {contents.bytes:,} bytes, all present), replacing {replacing}"
        )
        if dry_run:
            self.stdout.write(
                f"Dry run: would make live {summary}, by copying "
                f"{store.url_of(release.history)} to "
                f"{store.url_of(store.manifest_name)}. Nothing was changed."
            )
            return None
        recorded = publish_release(store, manifest)
        self.stdout.write(
            f"Made live {summary}; recorded as {store.url_of(recorded)}.\n"
            "Processes that read the manifest from S3 render this release's URLs "
            "from their next start; running processes keep the manifest they read."
        )
        return recorded

    def after_rollback(self, storage: ManifestSyncS3Storage) -> None:
        # This process's URLs come from the manifest it read: read it again.
        del storage.hashed_files
        del storage.manifest_hash
        staging = storage.persistent_staging_dir
        staged = staging / storage.manifest_name if staging else None
        if staged is not None and staged.is_file():
            self.stdout.write(
                f"Note: {staged} is a staged manifest. Processes that have one "
                "read it instead of the one on S3, and keep their own release."
            )


def static_files_storage() -> ManifestSyncS3Storage:
    """The ``staticfiles`` storage (what ``staticfiles_storage`` wraps), if it
    is one whose releases this package keeps."""
    storage = storages[STATICFILES_STORAGE_ALIAS]
    if not isinstance(storage, ManifestSyncS3Storage):
        found = type(storage)
        raise SettingError(
            "Releases are kept by django_s3_manifest_storage.ManifestSyncS3Storage, "
            f"but STORAGES[{STATICFILES_STORAGE_ALIAS!r}]['BACKEND'] is "
            f"{found.__module__}.{found.__qualname__}."
        )
    return storage


def release_store(storage: ManifestSyncS3Storage) -> ReleaseStore:
    """The releases kept under the storage's location."""
    problem = bucket_problem(storage.bucket_name)
    if problem:
        raise SettingError(problem)
    return ReleaseStore(
        client=storage.s3_client,
        location=storage.s3_location(),
        manifest_name=storage.manifest_name,
        # What a deploy sends with the manifest (Content-Type, Cache-Control,
        # ACL...), so a rollback publishes it the same way.
        manifest_parameters=storage.upload_parameters(
            storage.object_key(storage.manifest_name), hashed=False
        ),
    )


def row(release: KeptRelease, contents: ReleaseContents | None, state: str) -> str:
    files = f"{contents.files:>6}" if contents else f"{'?':>6}"
    size = f"{contents.bytes:>13,}" if contents else f"{'?':>13}"
    published = f"{release.published_at:%Y-%m-%d %H:%M:%S}"
    return f"  {release.id:<35}  {published:<19}  {files}  {size}  {state}"


def state(
    release: KeptRelease, stored: StoredReleases, contents: ReleaseContents
) -> str:
    """Whether a release is live, and whether its files are all there."""
    states = []
    if release == stored.live_release:
        states.append("live")
    elif release.digest == stored.live_digest:
        # Rolled back to: the older copy of the manifest now live.
        states.append("same manifest as live")
    states.append(
        f"{len(contents.missing)} missing" if contents.missing else "complete"
    )
    return ", ".join(states)


def no_history_hint(store: ReleaseStore) -> str:
    return (
        f"To keep releases you can list and roll back to, set "
        f"{setting_reference('keep_releases')} (for example to 5): each deploy "
        f"then stores a copy of its manifest under "
        f"{store.url_of(history_directory(store.manifest_name))}. "
        "--verify works without it."
    )
