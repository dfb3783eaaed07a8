"""Sphinx configuration of the documentation site (``nox -s docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

from django_s3_manifest_storage import __version__  # noqa: E402

project = "django-s3-manifest-storage"
author = "django-s3-manifest-storage contributors"
copyright = "django-s3-manifest-storage contributors"
release = version = __version__

extensions = ["myst_parser", "deploy_diagram"]
myst_heading_anchors = 3
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated/*.py"]
html_theme = "furo"
html_title = f"django-s3-manifest-storage {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
# Links into the repository (tests, benchmarks) point at the source tree.
REPOSITORY = "https://github.com/django-s3-manifest-storage/django-s3-manifest-storage"
myst_url_schemes = {
    "http": None,
    "https": None,
    "repo": f"{REPOSITORY}/blob/main/{{{{path}}}}",
}
