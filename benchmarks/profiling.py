"""Where a deploy's CPU and memory go, by module: ``python -m benchmarks.profiling --help``.

Runs the benchmark's deploys (the ``ours-tmp`` contender by default: the
package with temporary staging) against a local S3 server, each in its own
``collectstatic`` subprocess, scenario after scenario on one bucket, and
measures the scenarios asked for in one of three ways:

- ``cprofile``: a cProfile of the whole command, timed in process CPU
  time (since Python 3.12 it sees every thread's calls). Reported as self time by
  module (each module of django_s3_manifest_storage on its own row; Django,
  boto3 and its HTTP stack, obstore, moto, the standard library and others
  as groups), where the time of a built-in function (a C call such as
  ``posix.stat`` or ``_hashlib.update``) counts for the module that called
  it, then the functions with the most self time and the package's functions
  with the most cumulative time.
- ``tracemalloc``: a snapshot of the Python heap when it is largest (a
  sampler takes one whenever the traced size has grown 10% past the last
  snapshot), by the module of the allocating line and by the package
  function nearest to it on the stack.
- ``copy-loop``: the CPU that collectstatic's copy loop (``Command.copy_file``,
  once per file) spends per file, on the thread that runs it, against the
  same loop with a storage that does nothing (``NullStorage``), plus a
  cProfile of the loop alone.
- ``io``: the bytes the command read (``/proc/self/io``'s ``rchar``: every
  read() of a file, by any thread), beside the bytes of the sources
  (``source_bytes``).

The tables in RESULTS-scaling.md come from::

    python -m benchmarks.profiling --set synthetic-50k --measure 1:none,2:cprofile,3:cprofile
    python -m benchmarks.profiling --set synthetic-10k --measure 1:tracemalloc
    python -m benchmarks.profiling --set synthetic-10k --measure 1:copy-loop,2:copy-loop --null-storage

(``--work-dir`` keeps the generated set between runs.) tracemalloc slows a
deploy about fivefold: at 50,000 files and more, allow an hour.

The S3 server is waitress with no added delay unless ``--delay-ms`` says
otherwise: request latency does not change CPU or memory profiles, only the
wall time of the run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.core.files.storage import Storage

PACKAGE = "django_s3_manifest_storage"
MODES = ("cprofile", "tracemalloc", "copy-loop", "io", "none")
TRACEMALLOC_FRAMES = int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "8"))
# Take a new heap snapshot once the traced size has grown this much past the
# last one; the sampler checks every SAMPLE_SECONDS.
SNAPSHOT_GROWTH = float(os.environ.get("BENCH_SNAPSHOT_GROWTH", "1.10"))
SAMPLE_SECONDS = 0.5
# cProfile's clock: the process's CPU time, not wall time, so that other
# processes on a shared machine do not show up as time spent in the
# functions they interrupted. Not the thread's: since Python 3.12 cProfile
# sees the calls of every thread, and per-thread clocks then disagree.
PROFILE_TIMER = time.process_time


class NullStorage(Storage):
    """A staticfiles storage that does nothing: collectstatic's copy loop
    with no storage cost, the floor the package's run-mode storage is
    measured against."""

    def exists(self, name: str) -> bool:
        return False

    def _save(self, name: str, content: Any) -> str:
        return name

    def save(
        self, name: str | None, content: Any, max_length: int | None = None
    ) -> str:
        return name or ""

    def delete(self, name: str) -> None:
        pass

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return [], []

    def path(self, name: str) -> str:
        # collectstatic asks once whether the storage is local.
        raise NotImplementedError

    def url(self, name: str | None) -> str:
        return f"/static/{name}"


# Grouping -------------------------------------------------------------------

_STDLIB = sysconfig.get_paths()["stdlib"]
_GROUPS = (
    ("django/", "Django"),
    ("boto3/", "boto3 + botocore + urllib3"),
    ("botocore/", "boto3 + botocore + urllib3"),
    ("s3transfer/", "boto3 + botocore + urllib3"),
    ("urllib3/", "boto3 + botocore + urllib3"),
    ("obstore/", "obstore"),
    ("moto/", "moto"),
    ("benchmarks/", "benchmark harness"),
)


def module_group(filename: str) -> str:
    """The row a source file counts for: a module of the package on its own,
    else a group."""
    marker = f"/{PACKAGE}/"
    if marker in filename:
        return PACKAGE + "/" + filename.split(marker, 1)[1]
    for part, group in _GROUPS:
        if f"/{part}" in filename and "site-packages" in filename:
            return group
    if "/benchmarks/" in filename:
        return "benchmark harness"
    if filename.startswith(_STDLIB) and "site-packages" not in filename:
        return "standard library"
    if filename.startswith("<frozen importlib"):
        return "imports (importlib)"
    if filename.startswith("<frozen "):
        # os, posixpath, genericpath... are frozen into the interpreter.
        return "standard library"
    if filename in ("~", "") or filename.startswith("<"):
        return "interpreter"
    return "other"


def short_path(filename: str) -> str:
    """A source file's path from its package root (site-packages, the
    standard library or the checkout)."""
    for marker in ("/site-packages/", f"/{PACKAGE}/", "/benchmarks/"):
        if marker in filename:
            head = "" if marker == "/site-packages/" else marker.strip("/") + "/"
            return head + filename.split(marker, 1)[1]
    if filename.startswith(_STDLIB):
        return filename[len(_STDLIB) :].lstrip("/")
    return filename


# cProfile tables ------------------------------------------------------------

FuncKey = tuple[str, int, str]


def _is_builtin(func: FuncKey) -> bool:
    return func[0] == "~"


def cprofile_tables(stats_path: Path, top: int = 15) -> dict[str, Any]:
    """Self time by module group (built-ins counted for their callers), the
    functions with most self time, and the package's by cumulative time."""
    stats: dict[FuncKey, Any] = pstats.Stats(str(stats_path)).stats  # type: ignore[attr-defined]
    by_group: Counter[str] = Counter()
    calls_by_group: Counter[str] = Counter()
    for func, (_, ncalls, tottime, _, callers) in stats.items():
        if _is_builtin(func) and callers:
            # A C function's time, shared out to the modules that called it.
            for caller, edge in callers.items():
                group = module_group(caller[0])
                by_group[group] += edge[2]
                calls_by_group[group] += edge[1]
            continue
        group = module_group(func[0])
        by_group[group] += tottime
        calls_by_group[group] += ncalls
    total = sum(by_group.values())

    def label(func: FuncKey) -> str:
        if _is_builtin(func):
            return func[2]
        return f"{short_path(func[0])}:{func[1]} {func[2]}"

    by_self = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    ours = [item for item in stats.items() if f"/{PACKAGE}/" in item[0][0]]
    by_cumulative = sorted(ours, key=lambda item: item[1][3], reverse=True)[:top]
    return {
        "total_seconds": total,
        "groups": [
            {"group": group, "seconds": seconds, "calls": calls_by_group[group]}
            for group, seconds in by_group.most_common()
        ],
        "top_self": [
            {"function": label(f), "calls": s[1], "self": s[2], "cumulative": s[3]}
            for f, s in by_self
        ],
        "top_package_cumulative": [
            {"function": label(f), "calls": s[1], "self": s[2], "cumulative": s[3]}
            for f, s in by_cumulative
        ],
    }


# tracemalloc tables ---------------------------------------------------------


def tracemalloc_tables(snapshot: tracemalloc.Snapshot, top: int = 15) -> dict[str, Any]:
    by_group: Counter[str] = Counter()
    blocks_by_group: Counter[str] = Counter()
    by_owner: Counter[str] = Counter()
    blocks_by_owner: Counter[str] = Counter()
    by_line: Counter[str] = Counter()
    for stat in snapshot.statistics("traceback"):
        frames = list(stat.traceback)  # oldest first
        innermost = frames[-1]
        group = module_group(innermost.filename)
        by_group[group] += stat.size
        blocks_by_group[group] += stat.count
        owner = next(
            (
                f"{module_group(frame.filename)}:{frame.lineno}"
                for frame in reversed(frames)
                if f"/{PACKAGE}/" in frame.filename
            ),
            f"(no package frame) {group}",
        )
        by_owner[owner] += stat.size
        blocks_by_owner[owner] += stat.count
        by_line[f"{group}:{innermost.lineno}"] += stat.size
    return {
        "total_bytes": sum(by_group.values()),
        "groups": [
            {"group": g, "bytes": b, "blocks": blocks_by_group[g]}
            for g, b in by_group.most_common()
        ],
        "owners": [
            {"line": o, "bytes": b, "blocks": blocks_by_owner[o]}
            for o, b in by_owner.most_common(top)
        ],
        "lines": [{"line": line, "bytes": b} for line, b in by_line.most_common(top)],
    }


# The measured child ----------------------------------------------------------


def _run_collectstatic(args: Sequence[str]) -> None:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["django", *args])


def _child_cprofile(out: Path, args: Sequence[str]) -> dict[str, Any]:
    profiler = cProfile.Profile(PROFILE_TIMER)
    started = time.process_time()
    profiler.enable()
    try:
        _run_collectstatic(args)
    finally:
        profiler.disable()
    cpu = time.process_time() - started
    profiler.dump_stats(str(out.with_suffix(".prof")))
    return {
        "cpu_seconds": cpu,
        "profile_timer": "process CPU",
        **cprofile_tables(out.with_suffix(".prof")),
    }


def _child_tracemalloc(out: Path, args: Sequence[str]) -> dict[str, Any]:
    tracemalloc.start(TRACEMALLOC_FRAMES)
    kept: dict[str, Any] = {"snapshot": None, "size": 0, "taken": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            current, _ = tracemalloc.get_traced_memory()
            if current > kept["size"] * SNAPSHOT_GROWTH:
                kept["snapshot"] = None  # let the previous one go first
                kept["snapshot"] = tracemalloc.take_snapshot()
                kept["size"] = current
                kept["taken"] += 1

    sampler = threading.Thread(target=sample, name="heap-sampler", daemon=True)
    sampler.start()
    started = time.process_time()
    try:
        _run_collectstatic(args)
    finally:
        done.set()
        sampler.join()
    cpu = time.process_time() - started
    _, peak = tracemalloc.get_traced_memory()
    snapshot = kept["snapshot"]
    tracemalloc.stop()
    return {
        "cpu_seconds": cpu,
        "traced_peak_bytes": peak,
        "snapshot_bytes": kept["size"],
        "snapshots_taken": kept["taken"],
        **tracemalloc_tables(snapshot),
    }


def _child_copy_loop(out: Path, args: Sequence[str]) -> dict[str, Any]:
    """CPU of Command.copy_file (the per-file work collectstatic does through
    the storage), of the whole copy loop (collect() up to post_process) and
    of post_process, on the thread that runs them. With BENCH_PROFILE_LOOP=1
    a profiler runs inside copy_file only (a separate pass: it slows the
    loop down)."""
    from django.contrib.staticfiles.management.commands import collectstatic

    command_class = collectstatic.Command
    original_copy = command_class.copy_file
    original_collect = command_class.collect
    totals: dict[str, float] = defaultdict(float)
    profile = os.environ.get("BENCH_PROFILE_LOOP") == "1"
    profiler = cProfile.Profile(PROFILE_TIMER) if profile else None

    def copy_file(
        self: Any, path: str, prefixed_path: str, source_storage: Any
    ) -> None:
        started = time.thread_time()
        if profiler is not None:
            profiler.enable()
        try:
            original_copy(self, path, prefixed_path, source_storage)
        finally:
            if profiler is not None:
                profiler.disable()
            totals["copy_file_seconds"] += time.thread_time() - started
            totals["files"] += 1

    def collect(self: Any) -> Any:
        # self.storage is a lazy object; its __class__ is the storage's.
        storage_class = self.storage.__class__
        post_process = getattr(storage_class, "post_process", None)
        if post_process is not None:

            def timed_post_process(
                storage: Any, *pp_args: Any, **pp_kwargs: Any
            ) -> Any:
                # post_process is a generator: time its whole iteration.
                started = time.thread_time()
                loop_done = started - totals["collect_started"]
                totals["loop_seconds"] = loop_done
                yield from post_process(storage, *pp_args, **pp_kwargs)
                totals["post_process_seconds"] += time.thread_time() - started

            storage_class.post_process = timed_post_process  # type: ignore[attr-defined]
        totals["collect_started"] = time.thread_time()
        try:
            return original_collect(self)
        finally:
            totals["collect_seconds"] = time.thread_time() - totals["collect_started"]
            if "loop_seconds" not in totals:
                totals["loop_seconds"] = totals["collect_seconds"]
            if post_process is not None:
                storage_class.post_process = post_process  # type: ignore[attr-defined]

    command_class.copy_file = copy_file  # type: ignore[method-assign]
    command_class.collect = collect  # type: ignore[method-assign]
    started = time.process_time()
    _run_collectstatic(args)
    result: dict[str, Any] = {
        "cpu_seconds": time.process_time() - started,
        **{k: v for k, v in totals.items() if k != "collect_started"},
    }
    if profiler is not None:
        profiler.dump_stats(str(out.with_suffix(".prof")))
        result["loop_profile"] = cprofile_tables(out.with_suffix(".prof"))
        result["profile_timer"] = "process CPU"
    return result


def _read_counters() -> dict[str, int]:
    """This process's read counters (``/proc/self/io``): ``rchar``, the
    bytes passed to read() and pread() (files; sockets only when read
    that way), and ``syscr``, the calls. Threads' reads count too."""
    counters = {}
    for line in Path("/proc/self/io").read_text().splitlines():
        name, _, value = line.partition(":")
        counters[name] = int(value)
    return counters


def _child_io(out: Path, args: Sequence[str]) -> dict[str, Any]:
    before = _read_counters()
    started = time.process_time()
    _run_collectstatic(args)
    after = _read_counters()
    return {
        "cpu_seconds": time.process_time() - started,
        "read_bytes": after["rchar"] - before["rchar"],
        "read_calls": after["syscr"] - before["syscr"],
    }


CHILD_MODES: dict[str, Callable[[Path, Sequence[str]], dict[str, Any]]] = {
    "cprofile": _child_cprofile,
    "tracemalloc": _child_tracemalloc,
    "copy-loop": _child_copy_loop,
    "io": _child_io,
}


def child_main(argv: Sequence[str]) -> None:
    mode, out = argv[0], Path(argv[1])
    args = list(argv[2:])
    if mode == "none":
        _run_collectstatic(args)
        return
    result = CHILD_MODES[mode](out, args)
    out.write_text(json.dumps(result, indent=1) + "\n")


# The parent ------------------------------------------------------------------


def _parse_measure(value: str) -> dict[int, list[str]]:
    measures: dict[int, list[str]] = defaultdict(list)
    for item in value.split(","):
        number, _, mode = item.strip().partition(":")
        if mode not in MODES:
            raise SystemExit(f"--measure takes scenario:mode pairs, mode in {MODES}")
        measures[int(number)].append(mode)
    return measures


def main(argv: Sequence[str] | None = None) -> None:
    from benchmarks.assets import make_checkout, resolve_asset_set, summarize
    from benchmarks.contenders import CONTENDERS, DeployTarget
    from benchmarks.machine import describe_machine, package_versions
    from benchmarks.measure import isolated_environment, write_aws_cli_config
    from benchmarks.results import SCENARIOS
    from benchmarks.run import BENCHMARKS_DIR
    from benchmarks.s3_servers import SERVERS, start_server

    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling")
    parser.add_argument("--set", required=True, help="asset set, e.g. synthetic-50k")
    parser.add_argument(
        "--measure",
        required=True,
        help="scenario:mode pairs, e.g. 1:tracemalloc,2:cprofile; scenarios "
        "before the largest one named run unmeasured; modes: " + ", ".join(MODES),
    )
    parser.add_argument("--contender", default="ours-tmp")
    parser.add_argument(
        "--null-storage",
        action="store_true",
        help="with copy-loop: also run the loop with NullStorage (once)",
    )
    parser.add_argument("--s3-server", choices=SERVERS, default="waitress")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCHMARKS_DIR / "profiles",
        help="directory for the JSON results (and .prof files)",
    )
    args = parser.parse_args(argv)
    measures = _parse_measure(args.measure)
    contender = CONTENDERS[args.contender]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.work_dir is not None:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="s3-manifest-profile-", dir=args.work_dir))
    server = start_server(args.s3_server, delay_seconds=args.delay_ms / 1000)
    header = {
        "set": args.set,
        "contender": args.contender,
        "s3_server": args.s3_server,
        "delay_ms": args.delay_ms,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": describe_machine(),
        "versions": package_versions(),
    }
    try:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        bucket = f"profile-{args.set}-{args.contender}".lower()[:63]
        client.create_bucket(Bucket=bucket)
        asset_set = resolve_asset_set(args.set, args.work_dir or work / "synthetic")
        home = work / "home"
        home.mkdir()
        aws_config = work / "aws-config"
        write_aws_cli_config(aws_config, args.concurrency)
        from benchmarks.measure import REPO_ROOT

        env = isolated_environment(server.endpoint_url, aws_config, home, REPO_ROOT)
        # The profiler's own knobs (BENCH_TRACEMALLOC_FRAMES...) reach the
        # measured child; nothing else of this environment does.
        env.update(
            (name, value)
            for name, value in os.environ.items()
            if name.startswith("BENCH_")
        )
        for number in range(1, max(measures) + 1):
            run_dir = work / f"s{number}"
            dirs = make_checkout(
                asset_set, SCENARIOS[number].revision, run_dir / "checkout"
            )
            summary = summarize(dirs)
            header.setdefault("files", summary.files)
            header.setdefault("source_bytes", summary.bytes)
            target = DeployTarget(
                bucket=bucket,
                endpoint_url=server.endpoint_url,
                staticfiles_dirs=tuple(dirs),
                static_root=run_dir / "static_root",
                work_dir=run_dir,
                upload_concurrency=args.concurrency,
            )
            (command,) = contender.build_commands(target)
            for mode in measures.get(number, ["none"]):
                out = args.out / f"{args.set}-s{number}-{args.contender}-{mode}.json"
                passes = [("", {})]
                if mode == "copy-loop":
                    passes.append(("-loop-profile", {"BENCH_PROFILE_LOOP": "1"}))
                for suffix, extra in passes:
                    shutil.rmtree(target.static_root, ignore_errors=True)
                    pass_out = out.with_name(out.stem + suffix + ".json")
                    result = _run_child(
                        command.env, env, extra, mode, pass_out, run_dir, server
                    )
                    if mode != "none":
                        data = json.loads(pass_out.read_text())
                        pass_out.write_text(
                            json.dumps(
                                {**header, "scenario": number, **result, **data},
                                indent=1,
                            )
                            + "\n"
                        )
                    print(
                        f"scenario {number} {mode}{suffix}: {result}",
                        file=sys.stderr,
                        flush=True,
                    )
            if args.null_storage and number == max(measures):
                null_env = _null_storage_env(command.env)
                out = args.out / f"{args.set}-null-storage-copy-loop.json"
                for suffix, extra in (
                    ("", {}),
                    ("-loop-profile", {"BENCH_PROFILE_LOOP": "1"}),
                ):
                    pass_out = out.with_name(out.stem + suffix + ".json")
                    result = _run_child(
                        null_env, env, extra, "copy-loop", pass_out, run_dir, server
                    )
                    data = json.loads(pass_out.read_text())
                    pass_out.write_text(
                        json.dumps(
                            {**header, "contender": "null storage", **result, **data},
                            indent=1,
                        )
                        + "\n"
                    )
                    print(
                        f"null storage copy-loop{suffix}: {result}",
                        file=sys.stderr,
                        flush=True,
                    )
            shutil.rmtree(run_dir)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def _null_storage_env(command_env: dict[str, str]) -> dict[str, str]:
    config = json.loads(command_env["BENCH_DEPLOY_CONFIG"])
    config["storages"]["staticfiles"] = {
        "BACKEND": "benchmarks.profiling.NullStorage",
        "OPTIONS": {},
    }
    return {**command_env, "BENCH_DEPLOY_CONFIG": json.dumps(config)}


def _run_child(
    command_env: dict[str, str],
    env: dict[str, str],
    extra: dict[str, str],
    mode: str,
    out: Path,
    cwd: Path,
    server: Any,
) -> dict[str, Any]:
    server.clear_log()
    argv = [
        sys.executable,
        "-m",
        "benchmarks.profiling",
        "child",
        mode,
        str(out),
        "collectstatic",
        "--noinput",
        "-v0",
    ]
    started = time.perf_counter()
    completed = subprocess.run(
        argv,
        env={**env, **command_env, **extra},
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{completed.stderr[-3000:]}")
    return {
        "wall_seconds": wall,
        "requests": dict(server.counts()),
        "connections": server.connections,
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child_main(sys.argv[2:])
    else:
        main()
