#!/usr/bin/env python3
"""A throwaway Ceph RADOS Gateway on 127.0.0.1, to run the test suite against
a real S3 implementation.

    python3 scripts/ceph_rgw.py run -- CMD...   start it, run CMD with the
                                                S3_TEST_* variables, stop it
    python3 scripts/ceph_rgw.py start           start it, print the variables
    python3 scripts/ceph_rgw.py stop            stop what ``start`` started

It runs a single-node cluster: one monitor, one OSD keeping its objects in
memory (memstore), and radosgw with the beast frontend, cephx off. Data,
configuration, logs and pid files live in one directory (``--dir``; by default
one under the system's temporary directory, named after this checkout). A
start first stops whatever an earlier start left running there and wipes it;
a stop ends every daemon it finds there and keeps only the logs.

It installs nothing: it needs the Debian packages radosgw, ceph-mon and
ceph-osd (``scripts/install-ceph.sh`` installs them, as root). Linux only.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
DEFAULT_DIRECTORY = (
    Path(tempfile.gettempdir())
    / f"ceph-rgw-{hashlib.sha256(str(CHECKOUT).encode()).hexdigest()[:10]}"
)
PACKAGES = ("radosgw", "ceph-mon", "ceph-osd")
PROGRAMS = (
    "ceph",
    "ceph-mon",
    "ceph-osd",
    "monmaptool",
    "radosgw",
    "radosgw-admin",
)
ACCESS_KEY = "ceph-rgw-test-access-key"
SECRET_KEY = "ceph-rgw-test-secret-key"
REGION = "us-east-1"
# A busy 2-core machine starts it in about 20 s; leave room for a slower one.
START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0
DAEMONS = ("radosgw", "osd", "mon")  # the order to stop them in
MARKER = ".ceph-rgw"  # in a directory this script may wipe


class CephError(RuntimeError):
    """The gateway could not be started or stopped."""


@dataclass(frozen=True)
class Gateway:
    endpoint_url: str

    def environment(self) -> dict[str, str]:
        """What tests/conftest.py reads to use this endpoint instead of moto."""
        return {
            "S3_TEST_ENDPOINT_URL": self.endpoint_url,
            "S3_TEST_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_TEST_SECRET_ACCESS_KEY": SECRET_KEY,
            "S3_TEST_REGION": REGION,
        }


def missing_programs() -> list[str]:
    return [program for program in PROGRAMS if shutil.which(program) is None]


def require_ceph() -> None:
    missing = missing_programs()
    if missing:
        raise CephError(
            f"Ceph is not installed ({', '.join(missing)} not found on PATH). "
            f"Install the Debian packages {', '.join(PACKAGES)}: as root, "
            f"{CHECKOUT / 'scripts' / 'install-ceph.sh'}"
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def configuration(directory: Path, fsid: str, mon_port: int) -> str:
    return f"""\
[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{mon_port}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
# radosgw asks the monitor for a "secure" connection, which needs the session
# key that cephx would have given; without cephx it is refused (EACCES).
ms mon client mode = crc
run dir = {directory}/run
admin socket = {directory}/run/$name.asok
log file = {directory}/log/$name.log
mon cluster log file = {directory}/log/cluster.log
crash dir = {directory}/crash
# One OSD holds every copy there is.
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
# radosgw creates about seven pools; few placement groups keep one OSD light.
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000

[mon]
mon data = {directory}/mon

[osd]
osd data = {directory}/osd
osd objectstore = memstore
memstore device bytes = 2147483648
# Left on, these make the OSD's first mon command race its boot: it can go
# out with a zero cluster id and the OSD dies. The CRUSH entry is made by hand.
osd class update on start = false
osd crush update on start = false

[client.rgw]
rgw data = {directory}/rgw
"""


class Cluster:
    """The daemons and files under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.conf = directory / "ceph.conf"
        # The daemons this process started; their pid files let another
        # process (``stop``, or the next ``start``) find them.
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def pid_file(self, daemon: str) -> Path:
        return self.directory / "pids" / f"{daemon}.pid"

    def log_file(self, daemon: str) -> Path:
        return self.directory / "log" / f"{daemon}.out"

    # -- starting -----------------------------------------------------------

    def start(self) -> Gateway:
        """Start the daemons and create the S3 user; on failure, stop them."""
        require_ceph()
        self.stop()
        self.wipe(keep_logs=False)
        try:
            return self.start_daemons()
        except BaseException:
            self.stop()
            raise

    def start_daemons(self) -> Gateway:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / MARKER).touch()
        for sub in ("run", "log", "pids", "mon", "osd", "rgw", "crash"):
            (self.directory / sub).mkdir(parents=True)
        deadline = time.monotonic() + START_TIMEOUT
        fsid = str(uuid.uuid4())
        mon_port, rgw_port = free_port(), free_port()
        conf, monmap = self.conf, self.directory / "monmap"
        conf.write_text(configuration(self.directory, fsid, mon_port))

        mon_address = f"[v2:127.0.0.1:{mon_port}]"
        self.command(
            "monmaptool", "--create", "--fsid", fsid, "--addv", "a", mon_address, monmap
        )
        self.command("ceph-mon", "--mkfs", "-i", "a", "-c", conf, "--monmap", monmap)
        self.spawn("mon", "ceph-mon", "-f", "-i", "a", "-c", conf)

        osd_uuid = str(uuid.uuid4())
        osd = self.ceph("osd", "new", osd_uuid, deadline=deadline).strip()
        # In the CRUSH map before the OSD boots, which must not do it itself
        # (see "osd crush update on start" in the configuration).
        location = ("root=default", "host=localhost")
        self.ceph(
            "osd", "crush", "add", f"osd.{osd}", "1.0", *location, deadline=deadline
        )
        self.command(
            "ceph-osd", "--mkfs", "-i", osd, "--osd-uuid", osd_uuid, "-c", conf
        )
        self.spawn("osd", "ceph-osd", "-f", "-i", osd, "-c", conf)
        self.wait_for_osd(osd, deadline)

        frontend = f"beast endpoint=127.0.0.1:{rgw_port}"
        rgw = ("-n", "client.rgw", "-c", conf)
        self.spawn("radosgw", "radosgw", "-f", *rgw, "--rgw-frontends", frontend)
        endpoint_url = f"http://127.0.0.1:{rgw_port}"
        self.wait_for_http(endpoint_url, deadline)
        user = ("--uid", "testing", "--display-name", "testing")
        keys = ("--access-key", ACCESS_KEY, "--secret", SECRET_KEY)
        self.command("radosgw-admin", *rgw, "user", "create", *user, *keys)
        return Gateway(endpoint_url)

    def command(self, *argv: str | Path) -> str:
        """Run a Ceph tool to completion; its output, or CephError."""
        args = [str(arg) for arg in argv]
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise CephError(
                f"{' '.join(args)} failed with status {done.returncode}:\n"
                f"{done.stdout}{done.stderr}"
            )
        return done.stdout

    def ceph(self, *argv: str, deadline: float) -> str:
        """A ``ceph`` CLI command, retried while the monitor is coming up."""
        while True:
            self.check_daemons()
            try:
                return self.command(
                    "ceph", "-c", self.conf, "--connect-timeout", "10", *argv
                )
            except CephError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def spawn(self, daemon: str, *argv: str | Path) -> None:
        """Start a daemon in the foreground, in its own session, so that the
        terminal's Ctrl-C reaches only this script, which stops it in order."""
        with self.log_file(daemon).open("ab") as log:
            process = subprocess.Popen(
                [str(arg) for arg in argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[daemon] = process
        self.pid_file(daemon).write_text(f"{process.pid}\n")

    def check_daemons(self) -> None:
        for daemon, process in self.processes.items():
            if process.poll() is not None:
                raise CephError(
                    f"{daemon} exited with status {process.returncode} during "
                    f"start-up; its log "
                    f"({self.directory / 'log'}) ends with:\n" + self.log_tail(daemon)
                )

    def log_tail(self, daemon: str, lines: int = 30) -> str:
        # A new cluster's first OSD is osd.0.
        names = {"mon": "mon.a", "osd": "osd.0", "radosgw": "client.rgw"}
        texts = []
        for path in (
            self.log_file(daemon),
            self.directory / "log" / f"{names[daemon]}.log",
        ):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                texts.append(f"== {path.name}\n" + "\n".join(tail))
        return "\n".join(texts)

    def wait_for_osd(self, osd_id: str, deadline: float) -> None:
        while True:
            dump = json.loads(self.ceph("osd", "dump", "-f", "json", deadline=deadline))
            osd = next(o for o in dump["osds"] if str(o["osd"]) == osd_id)
            if osd["up"] and osd["in"]:
                return
            if time.monotonic() > deadline:
                raise CephError(
                    f"osd.{osd_id} is not up after {START_TIMEOUT:.0f} s:\n"
                    + self.log_tail("osd")
                )
            time.sleep(0.5)

    def wait_for_http(self, url: str, deadline: float) -> None:
        while True:
            self.check_daemons()
            try:
                with urllib.request.urlopen(url, timeout=5):
                    return
            except urllib.error.HTTPError:
                return  # any HTTP answer means the frontend is serving
            except OSError:
                if time.monotonic() > deadline:
                    raise CephError(
                        f"radosgw does not answer at {url} after "
                        f"{START_TIMEOUT:.0f} s:\n{self.log_tail('radosgw')}"
                    ) from None
                time.sleep(0.5)

    # -- stopping -----------------------------------------------------------

    def running_pid(self, daemon: str) -> int | None:
        """The pid of a daemon that a ``start`` left running. A pid reused by
        another program (whose command line does not name this directory's
        ceph.conf) is not one. (Just after exec, a Ceph daemon's command line
        reads empty for a moment: ``check_daemons`` watches the processes
        this one started instead.)"""
        try:
            pid = int(self.pid_file(daemon).read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            status = Path(f"/proc/{pid}/stat").read_text()
        except (OSError, ValueError):
            return None
        zombie = status.rsplit(")", 1)[-1].split()[0] == "Z"
        if zombie or str(self.conf).encode() not in cmdline.split(b"\0"):
            return None
        return pid

    def stop(self) -> None:
        """Stop the daemons in order: the gateway, then the OSD, the monitor."""
        for daemon in DAEMONS:
            process = self.processes.pop(daemon, None)
            if process is not None:
                stop_child(process)
            else:
                stop_pid(functools.partial(self.running_pid, daemon))
            self.pid_file(daemon).unlink(missing_ok=True)

    def wipe(self, *, keep_logs: bool) -> None:
        """Remove what a start left in the directory, and nothing else: a
        ``--dir`` that holds anything but a cluster's files is refused."""
        if not self.directory.exists():
            return
        marker = self.directory / MARKER
        if not marker.exists() and any(self.directory.iterdir()):
            raise CephError(
                f"{self.directory} is not empty and was not made by "
                f"{Path(__file__).name}: choose another --dir"
            )
        for path in self.directory.iterdir():
            if path == marker or (keep_logs and path.name == "log"):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def stop_child(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_pid(running_pid: Callable[[], int | None]) -> None:
    """Stop a daemon that another process started (it cannot be waited for)."""
    pid = running_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while running_pid() is not None:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.1)


@contextlib.contextmanager
def running_gateway(directory: Path = DEFAULT_DIRECTORY) -> Iterator[Gateway]:
    """Start the gateway; stop every daemon on the way out, whatever happens."""
    cluster = Cluster(directory)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        cluster.wipe(keep_logs=True)


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that ``finally`` blocks stop the daemons."""

    def exit_(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, exit_)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=("run", "start", "stop"))
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIRECTORY)
    parser.add_argument("command", nargs="*", help="for run: the command to run")
    args = parser.parse_args(argv)
    directory: Path = args.dir.resolve()
    stop_on_sigterm()
    try:
        if args.action == "stop":
            cluster = Cluster(directory)
            cluster.stop()
            cluster.wipe(keep_logs=True)
            return 0
        if args.action == "start":
            started = time.monotonic()
            gateway = Cluster(directory).start()
            print(f"# Ceph RGW up in {time.monotonic() - started:.1f} s")
            for name, value in gateway.environment().items():
                print(f"export {name}={value}")
            return 0
        if not args.command:
            parser.error("run needs a command after --")
        started = time.monotonic()
        with running_gateway(directory) as gateway:
            print(
                f"Ceph RGW at {gateway.endpoint_url}, up in "
                f"{time.monotonic() - started:.1f} s (logs: {directory / 'log'})",
                flush=True,
            )
            env = {**os.environ, **gateway.environment()}
            return subprocess.run(args.command, env=env, check=False).returncode
    except CephError as error:
        print(f"ceph_rgw: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
