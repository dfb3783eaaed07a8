"""The benchmark's S3 servers: moto behind ``LocalS3Server``'s recording layer,
served by waitress (connections kept alive, as S3 keeps them) or by werkzeug
(the tests' server, which closes the connection after every response).

Both count the TCP connections they accept, so a run can show that
connections are reused: with waitress a deploy's requests share a few
connections, with werkzeug every request opens one.

Only the benchmark uses waitress. The tests keep ``LocalS3Server`` as it is,
werkzeug and all, for their fault injection (a dropped connection needs
werkzeug's socket in the WSGI environment).
"""

from __future__ import annotations

import threading
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    create_backend_app,
)
from werkzeug.serving import make_server

from django_s3_manifest_storage.testing.s3_server import (
    LocalS3Server,
    QuietRequestHandler,
)

SERVERS = ("waitress", "werkzeug")


class _ConnectionCount:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self) -> None:
        with self._lock:
            self.value += 1

    def reset(self) -> None:
        with self._lock:
            self.value = 0


class _CountingServer(LocalS3Server):
    """A LocalS3Server whose connections accepted since the last clear_log()
    are counted."""

    name = ""

    def __init__(self, *, delay_seconds: float = 0.0, port: int = 0) -> None:
        super().__init__(delay_seconds=delay_seconds, port=port)
        self._connections = _ConnectionCount()

    @property
    def connections(self) -> int:
        """TCP connections accepted since the last clear_log()."""
        return self._connections.value

    def clear_log(self) -> None:
        super().clear_log()
        self._connections.reset()

    def _app(self) -> Any:
        # As LocalS3Server.start() builds it: moto's S3 app for every request
        # but moto's own API, behind the recording (and delaying) layer.
        return self._wrap(
            create_backend_app("s3"), DomainDispatcherApplication(create_backend_app)
        )


class CountingWerkzeugS3Server(_CountingServer):
    """LocalS3Server as the tests run it (werkzeug, threaded), counting
    connections: werkzeug answers every request with ``Connection: close``."""

    name = "werkzeug"

    def start(self) -> CountingWerkzeugS3Server:
        count = self._connections

        class CountingHandler(QuietRequestHandler):
            def setup(self) -> None:
                count.add()
                super().setup()

        self._server = make_server(
            "127.0.0.1",
            self._port,
            self._app(),
            threaded=True,
            request_handler=CountingHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-s3", daemon=True
        )
        self._thread.start()
        return self


class WaitressS3Server(_CountingServer):
    """moto's S3 served by waitress, which keeps HTTP/1.1 connections open.

    ``threads`` serve requests; each request holds one for the server's delay,
    so give it more than the clients' concurrency, or requests queue at the
    server instead of overlapping as they would on S3.
    """

    name = "waitress"

    def __init__(
        self, *, delay_seconds: float = 0.0, port: int = 0, threads: int = 64
    ) -> None:
        super().__init__(delay_seconds=delay_seconds, port=port)
        self.threads = threads
        self._waitress: Any = None

    def start(self) -> WaitressS3Server:
        from waitress.adjustments import Adjustments
        from waitress.channel import HTTPChannel
        from waitress.server import TcpWSGIServer
        from waitress.task import WSGITask

        count = self._connections

        class CaseKeepingTask(WSGITask):  # type: ignore[misc]
            def build_response_header(self) -> bytes:
                # waitress capitalises header names (x-amz-meta-key becomes
                # X-Amz-Meta-Key), and botocore takes user metadata keys from
                # them as they come: S3 and werkzeug send moto's lower case.
                sent = {_capitalised(name): name for name, _ in self.response_headers}
                header: bytes = super().build_response_header()
                lines = header.decode("latin-1").split("\r\n")
                for index, line in enumerate(lines[1:], start=1):
                    name, colon, value = line.partition(":")
                    if colon and name in sent:
                        lines[index] = f"{sent[name]}:{value}"
                return "\r\n".join(lines).encode("latin-1")

        class CountingChannel(HTTPChannel):  # type: ignore[misc]
            task_class = CaseKeepingTask

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                count.add()
                super().__init__(*args, **kwargs)

            def send_continue(self) -> None:
                # waitress (3.0.2) marks the request incomplete after sending
                # "100 Continue" and waits for its body; a request whose body
                # had already arrived (botocore sends an empty PUT with
                # "Expect: 100-continue") would wait forever. Answer 100, as
                # werkzeug does, and keep a complete request complete.
                completed = self.request.completed
                super().send_continue()
                self.request.completed = completed

        class CountingWaitress(TcpWSGIServer):  # type: ignore[misc]
            channel_class = CountingChannel

        adjustments = Adjustments(
            host="127.0.0.1",
            port=self._port,
            threads=self.threads,
            # Clients open at most one connection per thread; never refuse one.
            connection_limit=1000,
            # An idle connection stays open, as S3 keeps it for a while.
            channel_timeout=300,
            # The harness prints its own progress; no per-request logging.
            log_socket_errors=False,
        )
        self._waitress = CountingWaitress(self._app(), map={}, adj=adjustments)
        self._thread = threading.Thread(
            target=self._waitress.run, name="local-s3-waitress", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        from waitress import wasyncore

        self.clear_faults()
        if self._waitress is not None:
            self._waitress.task_dispatcher.shutdown()
            # The loop ends once its socket map is empty (within its 1 s poll).
            wasyncore.close_all(self._waitress._map)
        if self._thread is not None:
            self._thread.join()

    @property
    def endpoint_url(self) -> str:
        if self._waitress is None:
            raise RuntimeError("WaitressS3Server.start() has not been called")
        return f"http://127.0.0.1:{self._waitress.effective_port}"


def _capitalised(header_name: str) -> str:
    """A header name as waitress sends it."""
    return "-".join(part.capitalize() for part in header_name.split("-"))


def start_server(name: str, *, delay_seconds: float) -> _CountingServer:
    """Start the named benchmark server (one of SERVERS)."""
    server: _CountingServer
    if name == "waitress":
        server = WaitressS3Server(delay_seconds=delay_seconds)
    elif name == "werkzeug":
        server = CountingWerkzeugS3Server(delay_seconds=delay_seconds)
    else:
        raise ValueError(f"unknown S3 server {name!r}; choose from {SERVERS}")
    server.start()
    return server
