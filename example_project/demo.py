"""The demo: deploy the example site's static files to S3 twice, show the
hashed URLs the site renders, then collect them for whitenoise
(``STATIC_BACKEND=whitenoise``) and compare the hashed names. Last, deploy a
changed stylesheet as a new release, list the kept releases and roll back to
the previous one, showing the URL a fresh process renders before and after.

With no S3 configured (``STATIC_S3_BUCKET`` unset), it starts a local S3 on
127.0.0.1 first, so it runs anywhere:

    python3 dev.py demo
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "site_assets" / "static"


def deploy(title: str, env: dict[str, str], server: object | None) -> None:
    print(f"\n=== {title} ===", flush=True)
    if server is not None:
        server.clear_log()  # type: ignore[attr-defined]
    finished = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=HERE,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    print(finished.stdout, end="")
    if server is None:
        return
    counts = server.counts()  # type: ignore[attr-defined]
    print(
        "S3 saw:", ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing"
    )
    uploaded = [r.key for r in server.requests if r.method == "PUT"]  # type: ignore[attr-defined]
    reported = re.search(r"Published to \S+: (\d+) file\(s\) uploaded", finished.stdout)
    if reported is not None:
        verdict = "equal" if int(reported.group(1)) == len(uploaded) else "DIFFERENT"
        print(
            f"The summary says {reported.group(1)} uploaded; S3 saw "
            f"{len(uploaded)} PUT(s): {verdict}."
        )
    print(f"Uploaded {len(uploaded)} object(s)", end="")
    if uploaded:
        shown = [key for key in uploaded if "/site/" in key or key.endswith(".json")]
        print(", among them:")
        for key in shown:
            print(f"  {key}")
    else:
        print(".")


def touch_sources() -> None:
    """Make every source newer, as a fresh CI checkout would."""
    now = time.time()
    for path in SOURCES.rglob("*"):
        os.utime(path, (now, now))


def show_urls(
    env: dict[str, str],
    title: str = "URLs the site renders (manifest read from S3)",
    names: tuple[str, ...] = (
        "site/css/site.css",
        "site/img/logo.svg",
        "site/js/site.js",
        "admin/css/base.css",
    ),
) -> None:
    """Print the URLs a fresh process renders: it reads the live manifest."""
    print(f"\n=== {title} ===", flush=True)
    script = (
        "from django.templatetags.static import static\n"
        f"for name in {names!r}:\n"
        "    print(f'{name:24} -> {static(name)}')\n"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", script],
        cwd=HERE,
        env=env,
        check=True,
    )


def manage(title: str, env: dict[str, str], *arguments: str) -> None:
    print(f"\n=== {title} ===", flush=True)
    print("$ python manage.py " + " ".join(arguments), flush=True)
    subprocess.run(
        [sys.executable, "manage.py", *arguments], cwd=HERE, env=env, check=True
    )


def release_and_roll_back(env: dict[str, str], server: object | None) -> None:
    """Publish a changed stylesheet, then put the previous release back."""
    stylesheet = SOURCES / "site" / "css" / "site.css"
    original = stylesheet.read_bytes()
    try:
        stylesheet.write_bytes(original + b"h1 { color: #b00; }\n")
        deploy("Release 2: site/css/site.css changed", env, server)
    finally:
        stylesheet.write_bytes(original)
    changed = ("site/css/site.css",)
    show_urls(env, "URL a fresh process renders now (release 2)", changed)
    manage("Kept releases", env, "staticreleases")
    manage(
        "Roll back to the previous release", env, "staticreleases", "--rollback", "-1"
    )
    show_urls(env, "URL a fresh process renders after the rollback", changed)
    manage("Check the live release", env, "staticreleases", "--verify")


def compare_with_whitenoise(env: dict[str, str]) -> None:
    print("\n=== The same site served by whitenoise (STATIC_BACKEND=whitenoise) ===")
    import boto3

    # The credentials are in ``env`` (given to the subprocesses), not ours.
    client = boto3.client(
        "s3",
        endpoint_url=env.get("STATIC_S3_ENDPOINT_URL") or None,
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        region_name=env.get("AWS_S3_REGION_NAME") or env.get("AWS_DEFAULT_REGION"),
    )
    manifest = client.get_object(
        Bucket=env["STATIC_S3_BUCKET"], Key="static/staticfiles.json"
    )
    deployed = json.loads(manifest["Body"].read())["paths"]
    with tempfile.TemporaryDirectory(prefix="example-static-root-") as static_root:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=HERE,
            env={**env, "STATIC_BACKEND": "whitenoise", "STATIC_ROOT": static_root},
            check=True,
        )
        local = json.loads((Path(static_root) / "staticfiles.json").read_text())
    same = local["paths"] == deployed
    print(
        f"{len(local['paths'])} hashed names collected into STATIC_ROOT; "
        f"{'identical to' if same else 'DIFFERENT from'} the manifest on S3."
    )
    if not same:
        raise SystemExit(1)


def main() -> None:
    env = dict(os.environ)
    server = None
    if not env.get("STATIC_S3_BUCKET"):
        import boto3

        from django_s3_manifest_storage.testing.s3_server import LocalS3Server

        server = LocalS3Server().start()
        env.update(
            STATIC_S3_BUCKET="example-static",
            STATIC_S3_ENDPOINT_URL=server.endpoint_url,
            AWS_ACCESS_KEY_ID="demo",
            AWS_SECRET_ACCESS_KEY="demo",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )
        boto3.client(
            "s3",
            endpoint_url=server.endpoint_url,
            aws_access_key_id="demo",
            aws_secret_access_key="demo",
            region_name="us-east-1",
        ).create_bucket(Bucket="example-static")
        print(f"Started a local S3 at {server.endpoint_url} (bucket example-static)")
    try:
        deploy("First deploy: empty bucket", env, server)
        touch_sources()
        deploy(
            "Redeploy, nothing changed (sources touched, fresh staging)", env, server
        )
        show_urls(env)
        compare_with_whitenoise(env)
        release_and_roll_back(env, server)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
