"""The static files each benchmark deploys, and the fresh checkout of them per run.

An asset set is a list of source directories (the ``static/`` folders of real
packages installed in this environment, or a generated synthetic tree) plus a
small "site" directory the harness writes itself. The site directory is the
only source the harness modifies: scenarios 3 and 4 change its stylesheet or
the image that stylesheet references, scenario 5 an image that 120 other
stylesheets of the site reference.

Every run deploys from a fresh copy of all sources, so each file has a new
mtime, as on a fresh CI checkout. Nothing a previous run left on disk is
visible to the next one.
"""

from __future__ import annotations

import importlib.util
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Package static folders, located through the import system so the set matches
# whatever versions are installed. (distribution name, importable module)
PACKAGE_SOURCES: dict[str, str] = {
    "django-admin": "django.contrib.admin",
    "djangorestframework": "rest_framework",
    "django-ckeditor": "ckeditor",
    "django-jazzmin": "jazzmin",
    "fontawesomefree": "fontawesomefree",
}

PACKAGE_SETS: dict[str, tuple[str, ...]] = {
    "small": ("django-admin", "djangorestframework"),
    "medium": (
        "django-admin",
        "djangorestframework",
        "django-ckeditor",
        "django-jazzmin",
    ),
    "large": (
        "django-admin",
        "djangorestframework",
        "django-ckeditor",
        "django-jazzmin",
        "fontawesomefree",
    ),
}

SYNTHETIC_SETS: dict[str, int] = {
    "synthetic-1k": 1_000,
    "synthetic-10k": 10_000,
    "synthetic-50k": 50_000,
    "synthetic-100k": 100_000,
}

ALL_SET_NAMES: tuple[str, ...] = (*PACKAGE_SETS, *SYNTHETIC_SETS)

# Paths inside the site source, relative to a STATICFILES_DIRS entry. The
# stylesheet references the image and the font, so changing the image also
# changes the stylesheet's hashed content.
SITE_STYLESHEET = "benchsite/css/site.css"
SITE_IMAGE = "benchsite/img/hero.png"
SITE_FONT = "benchsite/fonts/body.woff2"
SITE_SCRIPT = "benchsite/js/site.js"
# One image that many stylesheets reference (scenario 5 changes it, so every
# referrer's hashed content changes too). The referrers are part of every set
# and every scenario, so the bucket that scenario 5 redeploys to already holds
# them, as a real project's would.
SHARED_IMAGE = "benchsite/img/shared.png"
REFERRER_COUNT = 120


def referrer_stylesheet(index: int) -> str:
    return f"benchsite/referrers/r{index:03d}.css"


REFERRER_STYLESHEETS: tuple[str, ...] = tuple(
    referrer_stylesheet(index) for index in range(REFERRER_COUNT)
)


@dataclass(frozen=True)
class SiteRevision:
    """Which edit of the site files a scenario deploys."""

    stylesheet: int = 0
    image: int = 0
    shared_image: int = 0


@dataclass(frozen=True)
class AssetSet:
    name: str
    sources: tuple[Path, ...]

    @property
    def synthetic(self) -> bool:
        return self.name in SYNTHETIC_SETS


@dataclass(frozen=True)
class SourceSummary:
    files: int
    bytes: int


def package_static_dir(distribution: str) -> Path:
    module = PACKAGE_SOURCES[distribution]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"{distribution} ({module}) is not installed in this environment"
        )
    static_dir = Path(next(iter(spec.submodule_search_locations))) / "static"
    if not static_dir.is_dir():
        raise RuntimeError(f"{distribution} has no static folder at {static_dir}")
    return static_dir


def resolve_asset_set(name: str, synthetic_root: Path) -> AssetSet:
    """The sources of a set; synthetic trees are generated on first use."""
    if name in PACKAGE_SETS:
        return AssetSet(name, tuple(package_static_dir(d) for d in PACKAGE_SETS[name]))
    if name in SYNTHETIC_SETS:
        tree = synthetic_root / name
        if not tree.is_dir():
            generate_synthetic_tree(tree, SYNTHETIC_SETS[name])
        return AssetSet(name, (tree,))
    raise ValueError(
        f"unknown asset set {name!r}; choose from {', '.join(ALL_SET_NAMES)}"
    )


def summarize(sources: Sequence[Path]) -> SourceSummary:
    files = 0
    total = 0
    for source in sources:
        for path in source.rglob("*"):
            if path.is_file():
                files += 1
                total += path.stat().st_size
    return SourceSummary(files, total)


def make_checkout(
    asset_set: AssetSet, revision: SiteRevision, destination: Path
) -> list[Path]:
    """Copy every source into ``destination`` and return the STATICFILES_DIRS list.

    copyfile (not copy2) so the copies get new mtimes, like a git checkout.
    """
    destination.mkdir(parents=True)
    dirs: list[Path] = []
    for index, source in enumerate(asset_set.sources):
        target = destination / f"{index:02d}-{source.parent.name}"
        shutil.copytree(source, target, copy_function=shutil.copyfile)
        dirs.append(target)
    site = destination / "site"
    write_site(site, revision)
    dirs.append(site)
    return dirs


# The site source ------------------------------------------------------------


def stylesheet_marker(revision: int) -> str:
    """A comment that identifies which stylesheet edit a deployed file holds."""
    return f"/* benchmark stylesheet revision {revision} */"


def site_image_bytes(revision: int) -> bytes:
    # A valid PNG header followed by deterministic filler: enough for S3 and
    # hashing, and each revision has different bytes (so a different hash).
    filler = random.Random(f"hero-{revision}").randbytes(24_000)
    return b"\x89PNG\r\n\x1a\n" + filler


def shared_image_bytes(revision: int) -> bytes:
    filler = random.Random(f"shared-{revision}").randbytes(6_000)
    return b"\x89PNG\r\n\x1a\n" + filler


def _referrer_text(index: int) -> bytes:
    # Each referrer differs (so each has its own hash) and points at the
    # shared image from a sibling folder, so the url() is rewritten.
    return (
        f"/* benchmark referrer {index} */\n"
        f'.shared-{index} {{ background: url("../img/shared.png") no-repeat; }}\n'
        f".shared-{index}-box {{ margin: {index % 40}px; }}\n"
    ).encode()


def write_site(root: Path, revision: SiteRevision) -> None:
    files: dict[str, bytes] = {
        SITE_STYLESHEET: (
            f"{stylesheet_marker(revision.stylesheet)}\n"
            '@font-face { font-family: "Body"; src: url("../fonts/body.woff2") format("woff2"); }\n'
            'body { font-family: "Body", sans-serif; }\n'
            '.hero { background: url("../img/hero.png") no-repeat; }\n'
            f".revision-{revision.stylesheet} {{ color: #{revision.stylesheet % 0xFFFFFF:06x}; }}\n"
        ).encode(),
        SITE_IMAGE: site_image_bytes(revision.image),
        SITE_FONT: random.Random("body-font").randbytes(18_000),
        SITE_SCRIPT: b'document.documentElement.classList.add("js");\n',
        SHARED_IMAGE: shared_image_bytes(revision.shared_image),
    }
    files.update(
        (name, _referrer_text(index)) for index, name in enumerate(REFERRER_STYLESHEETS)
    )
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


# Synthetic trees -------------------------------------------------------------

# Files per synthetic "package" folder, by kind. Images dominate, as in real
# front-end bundles; every stylesheet references images and fonts of its own
# folder so the manifest storage has url() rewriting to do.
_FOLDER_LAYOUT: dict[str, int] = {"css": 6, "js": 18, "img": 60, "fonts": 6, "svg": 10}
_FILES_PER_FOLDER = sum(_FOLDER_LAYOUT.values())


def generate_synthetic_tree(root: Path, file_count: int, seed: int = 1234) -> None:
    """Write ``file_count`` files of CSS, JS, images and fonts under ``root``."""
    rng = random.Random(seed)
    partial = root.with_name(root.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    written = 0
    folder = 0
    while written < file_count:
        budget = file_count - written
        written += _write_synthetic_folder(partial / f"lib{folder:04d}", budget, rng)
        folder += 1
    partial.rename(root)


def _write_synthetic_folder(folder: Path, budget: int, rng: random.Random) -> int:
    counts = dict(_FOLDER_LAYOUT)
    if budget < _FILES_PER_FOLDER:
        # Shrink every kind proportionally, keeping at least one stylesheet.
        scale = budget / _FILES_PER_FOLDER
        counts = {kind: int(n * scale) for kind, n in counts.items()}
        counts["css"] = max(1, counts["css"])
        counts["img"] += budget - sum(counts.values())
    for kind in counts:
        (folder / kind).mkdir(parents=True, exist_ok=True)

    images = [f"img/i{n:03d}.png" for n in range(counts["img"])]
    fonts = [f"fonts/f{n:02d}.woff2" for n in range(counts["fonts"])]
    for name in images:
        (folder / name).write_bytes(
            b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(800, 12_000))
        )
    for name in fonts:
        (folder / name).write_bytes(rng.randbytes(rng.randint(8_000, 30_000)))
    for n in range(counts["svg"]):
        (folder / f"svg/s{n:02d}.svg").write_text(_svg(rng))
    for n in range(counts["js"]):
        (folder / f"js/m{n:02d}.js").write_text(_script(rng, n))
    for n in range(counts["css"]):
        (folder / f"css/c{n:02d}.css").write_text(_stylesheet(rng, n, images, fonts))
    return sum(counts.values())


def _svg(rng: random.Random) -> str:
    circles = "".join(
        f'<circle cx="{rng.randint(0, 64)}" cy="{rng.randint(0, 64)}" r="{rng.randint(2, 12)}"/>'
        for _ in range(rng.randint(4, 40))
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">{circles}</svg>\n'
    )


def _script(rng: random.Random, index: int) -> str:
    body = "\n".join(
        f"  const v{k} = {rng.randint(0, 10**9)} ^ x; total += v{k};"
        for k in range(rng.randint(20, 200))
    )
    return f"export function module{index}(x) {{\n  let total = 0;\n{body}\n  return total;\n}}\n"


def _stylesheet(
    rng: random.Random, index: int, images: list[str], fonts: list[str]
) -> str:
    rules: list[str] = []
    for font in rng.sample(fonts, k=min(2, len(fonts))):
        family = Path(font).stem
        rules.append(
            f'@font-face {{ font-family: "{family}"; src: url("../{font}") format("woff2"); }}'
        )
    for image in rng.sample(images, k=min(12, len(images))):
        selector = f".c{index}-{Path(image).stem}"
        rules.append(f'{selector} {{ background-image: url("../{image}"); }}')
    for k in range(rng.randint(20, 120)):
        rules.append(
            f".u{index}-{k} {{ margin: {rng.randint(0, 40)}px; color: #{rng.randrange(16**6):06x}; }}"
        )
    return "\n".join(rules) + "\n"
