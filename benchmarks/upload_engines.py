"""Client CPU per PUT of each upload engine, side by side, in one run.

    python -m benchmarks.upload_engines --objects 2000 --concurrency 16

The local S3 server runs in a process of its own, and each engine in a fresh
client process that measures only itself: ``getrusage`` of the client
process (and of its children, for the engine that uses worker processes)
around the uploads alone, after imports, client set-up and file creation.
The server's own CPU is never counted. Engines run interleaved, ``--repeats``
times each, and the median is reported; the ratio column is CPU per PUT
relative to the boto3 engine this package used until now (0.30x: 3.3 times
less CPU).

Engines:

- ``boto3-threads``: ``publish.Uploader`` on one boto3 client, N threads
  (what a deploy uses without the ``fast`` extra);
- ``obstore-threads``: the package's obstore engine (``upload_engine =
  "obstore"``), N threads each calling obstore's blocking ``put``;
- ``obstore-raw-async``: obstore's ``put_async`` from one asyncio loop, N in
  flight, with no per-upload Python beyond the call (the floor of obstore);
- ``boto3-processes``: P worker processes, each with its own boto3 client
  and N/P threads (CPU of the workers included, start-up too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ACCESS_KEY = "bench-access-key"
SECRET_KEY = "bench-secret-key"
REGION = "us-east-1"
ENGINES = ("boto3-threads", "obstore-threads", "obstore-raw-async", "boto3-processes")

SERVE = """
import sys, time
from django_s3_manifest_storage.testing.s3_server import LocalS3Server
server = LocalS3Server().start()
print(server.endpoint_url, flush=True)
sys.stdin.read()  # until the parent closes the pipe
server.stop()
"""


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def make_files(directory: Path, count: int) -> list[Path]:
    """Small static-like files of 1-8 KiB, distinct contents."""
    paths = []
    for index in range(count):
        path = directory / f"f{index:06d}.css"
        size = 1024 * (1 + index % 8)
        path.write_bytes((f"/* {index} */ .c{index} {{}}\n" * size)[:size].encode())
        paths.append(path)
    return paths


def boto3_session() -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )


def boto3_client(endpoint: str, pool: int) -> Any:
    """A client as a storage builds it: a connection per thread, standard
    retries (retries.with_default_retries)."""
    from botocore.config import Config

    from django_s3_manifest_storage.s3 import DEFAULT_RETRIES

    return boto3_session().client(
        "s3",
        endpoint_url=endpoint,
        config=Config(max_pool_connections=pool, retries=DEFAULT_RETRIES.copy()),
    )


def uploads_for(paths: list[Path], prefix: str) -> list[Any]:
    from django_s3_manifest_storage.upload.uploader import Upload

    parameters = {
        "ContentType": "text/css",
        "CacheControl": "public, max-age=31536000, immutable",
    }
    return [
        Upload(path.name, path, f"{prefix}/{path.name}", parameters, gzip=False)
        for path in paths
    ]


def run_boto3_threads(
    endpoint: str, bucket: str, paths: list[Path], concurrency: int
) -> Callable[[], int]:
    from boto3.s3.transfer import TransferConfig

    from django_s3_manifest_storage.upload.uploader import Boto3Uploader

    uploader = Boto3Uploader(
        boto3_client(endpoint, concurrency),
        bucket,
        concurrency=concurrency,
        transfer_config=TransferConfig(),
    )
    uploads = uploads_for(paths, "boto3-threads")

    def go() -> int:
        failures = uploader.upload_wave(uploads)
        return len(uploads) - len(failures)

    return go


def run_obstore_threads(
    endpoint: str, bucket: str, paths: list[Path], concurrency: int
) -> Callable[[], int]:
    from boto3.s3.transfer import TransferConfig

    from django_s3_manifest_storage.upload.obstore.engine import ObstoreUploader
    from django_s3_manifest_storage.upload.obstore.settings import store_settings

    client = boto3_client(endpoint, concurrency)
    settings = store_settings(client, bucket, verify=None)
    assert settings is not None, "the client's settings cannot be copied to obstore"
    credentials = boto3_session().get_credentials()
    uploader = ObstoreUploader(
        client,
        bucket,
        concurrency=concurrency,
        transfer_config=TransferConfig(),
        settings=settings,
        credentials=credentials,
    )
    uploads = uploads_for(paths, "obstore-threads")

    def go() -> int:
        failures = uploader.upload_wave(uploads)
        if failures:
            print(failures[0], file=sys.stderr)
        assert uploader.sent_by_obstore == len(uploads) - len(failures)
        return len(uploads) - len(failures)

    return go


def run_obstore_raw_async(
    endpoint: str, bucket: str, paths: list[Path], concurrency: int
) -> Callable[[], int]:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        bucket,
        endpoint=endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    attributes: Any = {
        "Content-Type": "text/css",
        "Cache-Control": "public, max-age=31536000, immutable",
    }

    async def upload_all() -> int:
        semaphore = asyncio.Semaphore(concurrency)

        async def one(path: Path) -> None:
            async with semaphore:
                await obstore.put_async(
                    store,
                    f"obstore-raw-async/{path.name}",
                    path,
                    attributes=attributes,
                    use_multipart=False,
                )

        await asyncio.gather(*(one(path) for path in paths))
        return len(paths)

    def go() -> int:
        return asyncio.run(upload_all())

    return go


def _worker_upload(
    endpoint: str, bucket: str, names: list[str], concurrency: int
) -> tuple[int, float]:
    """In a worker process: upload ``names``; return (uploaded, CPU s)."""
    before = cpu_seconds(resource.RUSAGE_SELF)
    paths = [Path(name) for name in names]
    go = run_boto3_threads(endpoint, bucket, paths, concurrency)
    uploaded = go()
    return uploaded, cpu_seconds(resource.RUSAGE_SELF) - before


def run_boto3_processes(
    endpoint: str, bucket: str, paths: list[Path], concurrency: int
) -> Callable[[], int]:
    workers = 4
    per_worker = max(1, concurrency // workers)
    shares = [[str(path) for path in paths[index::workers]] for index in range(workers)]

    def go() -> int:
        import multiprocessing

        # spawn: each worker imports boto3 and builds its client, as a worker
        # of a real deploy would (fork would share the parent's half-used pool).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = list(
                pool.map(
                    _worker_upload,
                    [endpoint] * workers,
                    [bucket] * workers,
                    shares,
                    [per_worker] * workers,
                )
            )
        return sum(uploaded for uploaded, _cpu in results)

    return go


RUNNERS = {
    "boto3-threads": run_boto3_threads,
    "obstore-threads": run_obstore_threads,
    "obstore-raw-async": run_obstore_raw_async,
    "boto3-processes": run_boto3_processes,
}


def client_main(engine: str, endpoint: str, objects: int, concurrency: int) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    bucket = f"bench-{engine}-{os.getpid()}"
    boto3_client(endpoint, 1).create_bucket(Bucket=bucket)
    with tempfile.TemporaryDirectory(prefix="upload-engines-") as directory:
        paths = make_files(Path(directory), objects)
        go = RUNNERS[engine](endpoint, bucket, paths, concurrency)
        self_before = cpu_seconds(resource.RUSAGE_SELF)
        children_before = cpu_seconds(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        uploaded = go()
        wall = time.perf_counter() - started
        cpu = (cpu_seconds(resource.RUSAGE_SELF) - self_before) + (
            cpu_seconds(resource.RUSAGE_CHILDREN) - children_before
        )
    print(
        json.dumps(
            {
                "engine": engine,
                "objects": objects,
                "uploaded": uploaded,
                "cpu_seconds": cpu,
                "wall_seconds": wall,
            }
        )
    )


def machine() -> str:
    from benchmarks.machine import cpu_model, memory_gib

    memory = memory_gib()
    return (
        f"{cpu_model()}, {os.cpu_count()} cores"
        + (f", {memory:.0f} GiB" if memory else "")
        + f", Python {sys.version.split()[0]}"
    )


def versions() -> str:
    from importlib import metadata

    found = []
    for name in ("boto3", "botocore", "obstore", "moto"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        client_main(args.client, args.endpoint, args.objects, args.concurrency)
        return 0

    engines = args.engines.split(",")
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        endpoint = server.stdout.readline().strip()
        results: dict[str, list[dict[str, Any]]] = {engine: [] for engine in engines}
        for repeat in range(args.repeats):
            for engine in engines:
                completed = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.upload_engines",
                        "--client",
                        engine,
                        "--endpoint",
                        endpoint,
                        "--objects",
                        str(args.objects),
                        "--concurrency",
                        str(args.concurrency),
                    ],
                    capture_output=True,
                    text=True,
                )
                if completed.returncode != 0:
                    sys.stderr.write(completed.stderr)
                    raise SystemExit(f"{engine} failed")
                result = json.loads(completed.stdout.strip().splitlines()[-1])
                results[engine].append(result)
                print(f"repeat {repeat + 1}: {json.dumps(result)}", file=sys.stderr)
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)

    print(f"Machine: {machine()}; {versions()}")
    print(
        f"{args.objects:,} objects of 1-8 KiB, {args.concurrency} in flight, "
        f"median of {args.repeats}"
    )
    print()
    print("| engine | client CPU s | CPU ms per PUT | CPU vs boto3-threads | wall s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    baseline = None
    for engine in engines:
        runs = results[engine]
        if any(run["uploaded"] != run["objects"] for run in runs):
            print(f"| {engine} | failed uploads | | | |")
            continue
        cpu = statistics.median(run["cpu_seconds"] for run in runs)
        wall = statistics.median(run["wall_seconds"] for run in runs)
        per_put = cpu / args.objects * 1000
        if engine == "boto3-threads":
            baseline = per_put
        ratio = f"{per_put / baseline:.2f}x" if baseline else ""
        print(f"| {engine} | {cpu:.2f} | {per_put:.3f} | {ratio} | {wall:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
