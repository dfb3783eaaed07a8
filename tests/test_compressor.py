"""django-compressor's offline compression, writing into the same bucket
location as the static files, in the two S3 set-ups its documentation gives:

* ``separate``: compressor's output goes through django-storages' plain
  ``S3Storage`` at the same location;
* ``cached``: the documentation's "cached" recipe, a storage that also saves
  every file in ``COMPRESS_ROOT`` (overriding ``save`` and ``_save``): on a
  subclass of ManifestSyncS3Storage as the staticfiles storage, and on
  ``S3Storage`` for compressor's output and offline manifest. (With a
  manifest storage as ``COMPRESS_STORAGE``, as the recipe also allows,
  ``compress`` fails with django-storages' ``S3ManifestStaticStorage`` too:
  the manifest has no entry for compressor's output, ``url()`` raises.)

Each deploy runs ``collectstatic``, then ``compress``, then renders a page in
a fresh process that has no staging directory, as a web server started from
the release would. Every URL the page names, and every ``url()`` inside the
compressed CSS, must be on S3 with the right bytes; with ``keep_releases=2``
the next deploys must not take them away from the release still serving.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import BACKEND, S3Bucket, client_config_settings

pytest.importorskip("compressor")

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
# A guard against a hung process, not a measure of speed.
PROCESS_TIMEOUT_SECONDS = 120

PNG = b"\x89PNG\r\n\x1a\n"
SOURCES: dict[str, bytes] = {
    "css/site.css": (
        b'.site-v1 { background: url("../img/bg.png"); color: #123456; }\n'
    ),
    "css/extra.css": b".extra-rule { margin: 0 auto; }\n",
    "js/app.js": b"var appMarker = 1;\nconsole.log(appMarker);\n",
    "js/util.js": b"var utilMarker = 2;\nconsole.log(utilMarker);\n",
    "img/bg.png": PNG + b" background v1",
    "img/logo.png": PNG + b" logo",
}

PAGE = """\
{% load static compress %}
<html><head>
{% compress css %}
<link rel="stylesheet" href="{% static 'css/site.css' %}">
<link rel="stylesheet" href="{% static 'css/extra.css' %}">
{% endcompress %}
{% compress js %}
<script src="{% static 'js/app.js' %}"></script>
<script src="{% static 'js/util.js' %}"></script>
{% endcompress %}
</head><body><img src="{% static 'img/logo.png' %}"></body></html>
"""

# django-compressor's "cached" S3 storage recipe: a storage that also saves
# every file in COMPRESS_ROOT, where compressor reads them.
CACHED_STORAGES = '''\
from django.core.files.storage import storages
from storages.backends.s3 import S3Storage

from django_s3_manifest_storage import ManifestSyncS3Storage


class SavesLocally:
    """S3 storage backend that saves the files locally, too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.local_storage = storages.create_storage(
            {"BACKEND": "compressor.storage.CompressorFileStorage"}
        )

    def save(self, name, content, max_length=None):
        self.local_storage.save(name, content)
        super().save(name, self.local_storage._open(name), max_length)
        return name

    def _save(self, name, content):
        self.local_storage.save(name, content)
        return super()._save(name, self.local_storage._open(name))


class CachedManifestSyncS3Storage(SavesLocally, ManifestSyncS3Storage):
    pass


class CachedS3Storage(SavesLocally, S3Storage):
    pass
'''

RENDER = (
    "import django; django.setup(); "
    "from django.template.loader import render_to_string; "
    "print(render_to_string('page.html'))"
)


@dataclass
class CompressorProject:
    """A project directory: sources, a template, settings, and the
    ``STATIC_ROOT`` that collectstatic stages in and compressor reads."""

    root: Path
    s3: S3Bucket
    static_url: str

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def static_root(self) -> Path:
        return self.root / "static_root"

    def write_source(self, name: str, content: bytes) -> None:
        path = self.source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    def run(
        self, *args: str, static_root: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``python -m django ARGS`` in a process of its own."""
        completed = subprocess.run(
            [sys.executable, *args],
            env={
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": f"{self.root}:{REPOSITORY_ROOT}",
                "DJANGO_SETTINGS_MODULE": "compressor_settings",
                "PROJECT_STATIC_ROOT": str(static_root or self.static_root),
                "TMPDIR": str(self.root / "tmp"),
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
            },
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT_SECONDS,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return completed

    def collectstatic(self) -> str:
        return self.run("-m", "django", "collectstatic", "--noinput").stdout

    def compress(self) -> str:
        return self.run("-m", "django", "compress").stdout

    def render(self) -> str:
        """The page, from a fresh process with no staging directory."""
        absent = self.root / f"absent-{uuid.uuid4().hex[:8]}"
        return self.run("-c", RENDER, static_root=absent).stdout

    def key_of(self, url: str) -> str:
        """The object key a URL on this bucket names."""
        assert url.startswith(self.static_url), url
        return "static/" + url[len(self.static_url) :].split("?", 1)[0]


def make_project(tmp_path: Path, s3: S3Bucket, setup: str) -> CompressorProject:
    endpoint = urlsplit(s3.endpoint_url)
    # Path-style URLs on the test endpoint, as a custom domain would serve.
    domain = f"{endpoint.netloc}/{s3.name}"
    url_options = {
        "custom_domain": domain,
        "url_protocol": f"{endpoint.scheme}:",
        "querystring_auth": False,
    }
    project = CompressorProject(
        tmp_path / "project", s3, f"{endpoint.scheme}://{domain}/static/"
    )
    (project.root / "templates").mkdir(parents=True)
    (project.root / "tmp").mkdir()
    (project.root / "templates" / "page.html").write_text(PAGE)
    for name, content in SOURCES.items():
        project.write_source(name, content)
    (project.root / "project_storage.py").write_text(CACHED_STORAGES)

    ours = s3.options(keep_releases=2, **url_options)
    stock = s3.stock_options(**url_options)
    for options in (ours, stock):
        options.pop("client_config", None)
    if setup == "separate":
        backend = BACKEND
        compressor_backend = "storages.backends.s3.S3Storage"
    else:
        backend = "project_storage.CachedManifestSyncS3Storage"
        compressor_backend = "project_storage.CachedS3Storage"
    compressor_storages = (
        f"    'compressor': {{'BACKEND': {compressor_backend!r}, "
        "'OPTIONS': STOCK},\n"
        f"    'compressor-offline': {{'BACKEND': {compressor_backend!r}, "
        "'OPTIONS': STOCK},\n"
    )
    config = ""
    if client_config_settings():
        config = (
            f"OPTIONS['client_config'] = Config(**{client_config_settings()!r})\n"
            f"STOCK['client_config'] = Config(**{client_config_settings()!r})\n"
        )
    (project.root / "compressor_settings.py").write_text(
        textwrap.dedent(
            f"""\
            import os

            from botocore.config import Config

            OPTIONS = {ours!r}
            STOCK = {stock!r}
            """
        )
        + config
        + textwrap.dedent(
            f"""\
            SECRET_KEY = "compressor-project"
            USE_TZ = True
            INSTALLED_APPS = [
                "django.contrib.staticfiles",
                "compressor",
                "django_s3_manifest_storage",
            ]
            STATICFILES_DIRS = [{str(project.source)!r}]
            STATICFILES_FINDERS = [
                "django.contrib.staticfiles.finders.FileSystemFinder",
                "django.contrib.staticfiles.finders.AppDirectoriesFinder",
                "compressor.finders.CompressorFinder",
            ]
            STATIC_ROOT = os.environ["PROJECT_STATIC_ROOT"]
            # Compressor reads the collected files in COMPRESS_ROOT: the
            # collection stays on disk there.
            OPTIONS["staging_dir"] = STATIC_ROOT
            STATIC_URL = {project.static_url!r}
            COMPRESS_ROOT = STATIC_ROOT
            COMPRESS_URL = STATIC_URL
            COMPRESS_ENABLED = True
            COMPRESS_OFFLINE = True
            COMPRESS_CSS_HASHING_METHOD = "content"
            COMPRESS_STORAGE_ALIAS = "compressor"
            COMPRESS_OFFLINE_MANIFEST_STORAGE_ALIAS = "compressor-offline"
            TEMPLATES = [
                {{
                    "BACKEND": "django.template.backends.django.DjangoTemplates",
                    "DIRS": [{str(project.root / "templates")!r}],
                    "APP_DIRS": True,
                }}
            ]
            STORAGES = {{
                "default": {{
                    "BACKEND": "django.core.files.storage.FileSystemStorage"
                }},
                "staticfiles": {{"BACKEND": {backend!r}, "OPTIONS": OPTIONS}},
            """
        )
        + compressor_storages
        + "}\n"
    )
    return project


def page_urls(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]+)"', page)


def css_urls(css: bytes) -> list[str]:
    return [
        url
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.decode())
        if not url.startswith("data:")
    ]


def assert_page_is_served(
    project: CompressorProject, page: str, markers: dict[str, list[bytes]]
) -> dict[str, bytes]:
    """Every URL of ``page`` is on S3; the compressed files hold what their
    sources say (``markers``), every url() in the CSS is on S3 with its
    source's bytes. Returns ``{key: bytes}`` of what the page needs."""
    s3 = project.s3
    held = set(s3.object_keys("static/"))
    needed: dict[str, bytes] = {}
    urls = page_urls(page)
    compressed = [url for url in urls if "/CACHE/" in url]
    assert len(compressed) == 2, page  # one CSS, one JS
    for url in urls:
        key = project.key_of(url)
        assert key in held, f"{url} is not on S3"
        needed[key] = s3.get(key)
    [logo] = [url for url in urls if "/img/" in url]
    assert needed[project.key_of(logo)] == SOURCES["img/logo.png"]
    [css] = [url for url in compressed if url.split("?")[0].endswith(".css")]
    [js] = [url for url in compressed if url.split("?")[0].endswith(".js")]
    for marker in markers["css"]:
        assert marker in needed[project.key_of(css)]
    for marker in markers["js"]:
        assert marker in needed[project.key_of(js)]
    references = css_urls(needed[project.key_of(css)])
    assert references, "the compressed CSS references the background image"
    for url in references:
        key = project.key_of(url)
        assert key in held, f"{url}, named in {css}, is not on S3"
        needed[key] = s3.get(key)
        assert "/img/bg." in key
    return needed


def deploy_release(project: CompressorProject) -> str:
    """collectstatic, compress, and the page a fresh process renders."""
    project.collectstatic()
    project.compress()
    return project.render()


@pytest.mark.parametrize("setup", ["separate", "cached"])
def test_offline_compression_is_served_from_s3_across_releases(
    s3: S3Bucket, tmp_path: Path, setup: str
) -> None:
    project = make_project(tmp_path, s3, setup)
    v1 = {"css": [b".site-v1", b".extra-rule"], "js": [b"appMarker", b"utilMarker"]}

    page_1 = deploy_release(project)

    served_1 = assert_page_is_served(project, page_1, v1)
    bg_key = next(key for key in served_1 if "/img/bg." in key)
    assert served_1[bg_key] == SOURCES["img/bg.png"]
    # compressor wrote into the location, as its documentation sets it up.
    keys = set(s3.object_keys("static/"))
    assert any(key.startswith("static/CACHE/css/") for key in keys)
    assert any(key.startswith("static/CACHE/js/") for key in keys)
    assert "static/manifest.json" in keys
    # No randomly renamed object: each one is a collected name or compressor's.
    assert not [key for key in keys if re.search(r"_[A-Za-z0-9]{7}\.", key)]
    assert "static/staticfiles.json.pending" not in keys

    # Release 2: the CSS and its image change; the JS does not.
    project.write_source("css/site.css", SOURCES["css/site.css"].replace(b"v1", b"v2"))
    project.write_source("img/bg.png", PNG + b" background v2")
    v2 = {**v1, "css": [b".site-v2", b".extra-rule"]}
    page_2 = deploy_release(project)

    served_2 = assert_page_is_served(project, page_2, v2)
    assert page_urls(page_2) != page_urls(page_1)
    # Release 1 still serves during the rolling deploy: its page works.
    assert assert_page_is_served(project, page_1, v1) == served_1

    # Release 3: the CSS changes again; release 2 is still serving.
    project.write_source("css/site.css", SOURCES["css/site.css"].replace(b"v1", b"v3"))
    page_3 = deploy_release(project)

    assert_page_is_served(project, page_3, {**v1, "css": [b".site-v3", b".extra-rule"]})
    assert assert_page_is_served(project, page_2, v2) == served_2


def test_staging_and_s3_hold_no_renamed_file_with_the_cached_recipe(
    s3: S3Bucket, tmp_path: Path
) -> None:
    """The cached recipe saves each file in STATIC_ROOT itself, then through
    the storage: the staged name exists already, and must be overwritten."""
    project = make_project(tmp_path, s3, "cached")

    project.collectstatic()

    manifest = s3.get("static/staticfiles.json")
    paths: dict[str, str] = json.loads(manifest)["paths"]
    collection = {*paths, *paths.values()}
    staged = {
        path.relative_to(project.static_root).as_posix()
        for path in project.static_root.rglob("*")
        if path.is_file()
    }
    records = {name for name in staged if name.startswith("staticfiles.json")}
    assert staged - records == collection
    keys = {key.removeprefix("static/") for key in s3.object_keys("static/")}
    assert {key for key in keys if not key.startswith("staticfiles.json")} == (
        collection
    )
    assert "staticfiles.json.pending" not in keys
