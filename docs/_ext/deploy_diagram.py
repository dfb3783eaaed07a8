"""Draws docs/_generated/deploy-order.svg when the site is built: the order
of a deploy's uploads, and which release the site serves after each step.

The steps are data (``STEPS``); the drawing is plain SVG text, so the build
needs nothing besides Sphinx. ``python docs/_ext/deploy_diagram.py OUT.svg``
writes it without Sphinx.
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path
from typing import Any, NamedTuple

OLD = "#9bbbd4"  # release N: what the site serves before the deploy
NEW = "#f0b35a"  # release N+1


class Step(NamedTuple):
    title: str
    requests: str
    adds: tuple[str, ...]
    live: str  # "N" or "N+1": the manifest S3 serves after this step


STEPS = (
    Step("before", "", ("release N's hashed files", "originals", "manifest N"), "N"),
    Step("1. read", "GET staticfiles.json", (), "N"),
    Step(
        "2. hashed files",
        "PUT, concurrently",
        ("new hashed names", "their .gz / .br"),
        "N",
    ),
    Step("3. originals", "PUT, concurrently", ("changed unhashed originals",), "N"),
    Step("4. record", "PUT", ("staticfiles.json.sources",), "N"),
    Step("5. manifest", "PUT, last", ("manifest N+1", "(history copy)"), "N+1"),
    Step("6. prune", "DELETE, optional", ("files no kept release names",), "N+1"),
)

COLUMN = 150
LEFT = 20
TOP = 20


def render() -> str:
    width = LEFT * 2 + COLUMN * len(STEPS)
    height = 330
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" '
        'refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker>'
        "</defs>",
    ]
    for index, step in enumerate(STEPS):
        x = LEFT + index * COLUMN
        centre = x + COLUMN / 2 - 5
        parts.append(
            f'<rect x="{x}" y="{TOP}" width="{COLUMN - 10}" height="46" rx="6" '
            'fill="#f4f4f4" stroke="#888"/>'
        )
        parts.append(
            f'<text x="{centre}" y="{TOP + 20}" text-anchor="middle" '
            f'font-weight="bold">{escape(step.title)}</text>'
        )
        parts.append(
            f'<text x="{centre}" y="{TOP + 37}" text-anchor="middle" '
            f'fill="#444">{escape(step.requests)}</text>'
        )
        if index + 1 < len(STEPS):
            parts.append(
                f'<line x1="{x + COLUMN - 10}" y1="{TOP + 23}" x2="{x + COLUMN}" '
                f'y2="{TOP + 23}" stroke="#555" marker-end="url(#arrow)"/>'
            )
        colour = OLD if index == 0 else NEW
        for line, text in enumerate(step.adds):
            parts.append(
                f'<text x="{centre}" y="{TOP + 90 + line * 16}" text-anchor="middle" '
                f'fill="{"#1f4e79" if colour == OLD else "#8a5300"}">'
                f"{escape(text)}</text>"
            )
        live = OLD if step.live == "N" else NEW
        parts.append(
            f'<rect x="{x}" y="{TOP + 170}" width="{COLUMN}" height="34" '
            f'fill="{live}"/>'
        )
        parts.append(
            f'<text x="{x + COLUMN / 2}" y="{TOP + 192}" text-anchor="middle">'
            f"site serves release {step.live}</text>"
        )
    parts += [
        f'<text x="{LEFT}" y="{TOP + 75}" fill="#444">added to S3 at this step:</text>',
        f'<text x="{LEFT}" y="{TOP + 160}" fill="#444">live manifest after this '
        "step (what {% static %} renders):</text>",
        f'<text x="{LEFT}" y="{TOP + 235}" fill="#444">A failure at steps 1-5 '
        "stops the deploy before the manifest: release N stays live and complete, "
        "and a rerun sends only what is missing.</text>",
        f'<text x="{LEFT}" y="{TOP + 255}" fill="#444">Release N\'s hashed files '
        "stay on S3 (unless pruned at step 6, after N+1 is live), so pages rendered "
        "by release N keep working during a rolling deploy.</text>",
        f'<text x="{LEFT}" y="{TOP + 275}" fill="#444">Step 2 starts while CSS and '
        "JavaScript are still being hashed: images and fonts go first.</text>",
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render()
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def setup(app: Any) -> dict[str, Any]:
    write(Path(app.srcdir) / "_generated" / "deploy-order.svg")
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    write(Path(sys.argv[1]))
