"""An S3 endpoint on 127.0.0.1 for tests, the demo and the benchmark.

moto's S3 runs in server mode inside this process, behind a thin WSGI layer
that records every request (so tests can count what S3 saw), can add a fixed
delay (to stand in for the network), and can make chosen requests fail (an S3
error, a dropped connection, a stall past the client's timeout) or wait for
each other, to test failures and races without mocking the client.

What it takes from moto: moto's documented server (``moto_server``,
``ThreadedMotoServer``) builds its WSGI app and serves it, with no way to put
a layer in front. So this module builds the app itself, from the two names
``ThreadedMotoServer`` builds it from: ``DomainDispatcherApplication`` and
``create_backend_app`` in ``moto.moto_server.werkzeug_app``, which moto does
not document. That is why the ``testing`` extra allows one major version of
moto, and why the suite runs against the lowest version it allows as well as
the newest. Everything else is public: werkzeug's server, and moto's own HTTP
API for switching signature checks on and off (``/moto-api/reset-auth``, what
moto's ``set_initial_no_auth_action_count`` calls in server mode).
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn
from urllib.parse import parse_qs, unquote

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wsgi import get_input_stream

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it (path-style addressing)."""

    method: str
    bucket: str
    key: str
    query: dict[str, list[str]]
    content_length: int
    user_agent: str = ""
    """Tells the client apart: boto3 (``Boto3/...``) or obstore
    (``object_store/...``)."""
    copy_source: str = ""
    """``x-amz-copy-source``: what a CopyObject (a PUT) copies."""

    @property
    def kind(self) -> str:
        """``LIST`` for a bucket listing, ``COPY`` for a CopyObject (a PUT
        that sends no bytes), else the HTTP method."""
        if self.method == "GET" and self.bucket and not self.key:
            return "LIST"
        if self.method == "PUT" and self.copy_source:
            return "COPY"
        return self.method


FaultAction = Literal["error", "reset", "stall"]


@dataclass
class Fault:
    """Make matching requests fail instead of serving them.

    ``action`` says how: ``"error"`` answers ``status`` with the S3 error
    ``code``; ``"reset"`` drops the connection without an answer; ``"stall"``
    holds the request ``stall_seconds`` (longer than a client's read timeout)
    and then drops it, never serving it.

    ``method`` is an HTTP method or ``"*"``; ``key_pattern`` is searched in the
    key. ``after`` lets that many matching requests through first and ``times``
    limits how many then fail (None: all of them): ``after=2, times=1`` fails
    the third matching request only, ``times=2`` models a transient failure,
    ``times=None`` a persistent one.
    """

    method: str
    key_pattern: str = ".*"
    status: int = 500
    code: str = "InternalError"
    times: int | None = None
    after: int = 0
    action: FaultAction = "error"
    stall_seconds: float = 30.0
    hits: int = field(default=0, init=False)
    seen: int = field(default=0, init=False)
    released: threading.Event = field(
        default_factory=threading.Event, init=False, repr=False
    )

    def applies_to(self, request: RecordedRequest) -> bool:
        return self.method in ("*", request.method, request.kind) and bool(
            re.search(self.key_pattern, request.key)
        )

    def strikes(self, request: RecordedRequest) -> bool:
        """Whether this request fails; counts it. Call with the server lock."""
        if not self.applies_to(request):
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        self.hits += 1
        return True


@dataclass
class Rendezvous:
    """Hold matching requests until ``parties`` of them have arrived, then
    serve them all at once: makes concurrent clients overlap for certain.

    Used once; if the others do not come within ``timeout_seconds`` the held
    requests are served anyway and ``met`` stays False.
    """

    method: str
    key_pattern: str
    parties: int
    timeout_seconds: float = 30.0
    met: bool = field(default=False, init=False)
    barrier: threading.Barrier = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.barrier = threading.Barrier(self.parties, timeout=self.timeout_seconds)

    def applies_to(self, request: RecordedRequest) -> bool:
        return (
            not self.met
            and self.method in ("*", request.method)
            and bool(re.search(self.key_pattern, request.key))
        )

    def wait(self) -> None:
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            return
        self.met = True


class InjectedReset(ConnectionResetError):
    """Raised inside the WSGI app to drop the client's connection."""


class QuietRequestHandler(WSGIRequestHandler):
    """The request log is kept in memory; don't print a line per request.

    werkzeug's handler, as the oldest moto 5 uses: like it, it drops request
    headers whose names hold an underscore (user metadata keys such as
    ``x-amz-meta-my_key``), which newer moto's own handler keeps.
    """

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def connection_dropped(
        self, error: BaseException, environ: dict[str, Any] | None = None
    ) -> None:
        # An injected reset: don't wait on this connection for another request.
        self.close_connection = True


def _parse_request(environ: dict[str, Any]) -> RecordedRequest:
    path = unquote(environ.get("PATH_INFO", ""))
    bucket, _, key = path.lstrip("/").partition("/")
    return RecordedRequest(
        method=environ["REQUEST_METHOD"],
        bucket=bucket,
        key=key,
        query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
        content_length=int(environ.get("CONTENT_LENGTH") or 0),
        user_agent=environ.get("HTTP_USER_AGENT", ""),
        copy_source=unquote(environ.get("HTTP_X_AMZ_COPY_SOURCE", "")),
    )


def _error_body(fault: Fault, request: RecordedRequest) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{fault.code}</Code>"
        f"<Message>Injected {fault.code} for {request.method}</Message>"
        f"<Resource>/{request.bucket}/{request.key}</Resource>"
        "<RequestId>injected</RequestId></Error>"
    ).encode()


class LocalS3Server:
    """moto's S3 served on 127.0.0.1 from a background thread."""

    def __init__(self, *, delay_seconds: float = 0.0, port: int = 0) -> None:
        self.delay_seconds = delay_seconds
        self._port = port
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._rendezvous: list[Rendezvous] = []
        self._in_flight: Counter[str] = Counter()
        self.max_in_flight = 0
        self.max_in_flight_by_method: Counter[str] = Counter()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle ---------------------------------------------------------------

    def start(self) -> LocalS3Server:
        # The dispatcher finds the service from the Host header, scanning
        # moto's modules on every request; only S3 is served here, so S3's
        # app takes every request but moto's own API (/moto-api/reset).
        moto_api_app = DomainDispatcherApplication(create_backend_app)
        s3_app = create_backend_app("s3")
        self._server = make_server(
            "127.0.0.1",
            self._port,
            self._wrap(s3_app, moto_api_app),
            threaded=True,
            request_handler=QuietRequestHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-s3", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.clear_faults()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> LocalS3Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalS3Server.start() has not been called")
        return f"http://127.0.0.1:{self._server.server_port}"

    # Request log -------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_log(self) -> None:
        with self._lock:
            self._requests.clear()
            self.max_in_flight = 0
            self.max_in_flight_by_method.clear()

    def counts(self) -> Counter[str]:
        """Requests seen since the last clear_log(), by kind (LIST, GET, PUT...)."""
        return Counter(request.kind for request in self.requests)

    # Faults ------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every fault and rendezvous; stalled requests are dropped now."""
        with self._lock:
            for fault in self._faults:
                fault.released.set()
            for rendezvous in self._rendezvous:
                rendezvous.barrier.abort()
            self._faults.clear()
            self._rendezvous.clear()

    def add_rendezvous(self, rendezvous: Rendezvous) -> Rendezvous:
        with self._lock:
            self._rendezvous.append(rendezvous)
        return rendezvous

    @contextmanager
    def checking_credentials(self) -> Iterator[None]:
        """Make moto check signatures: unknown keys get 403 InvalidAccessKeyId.

        moto's switch is process-wide; keep the block short.
        """
        previous = self._set_unchecked_request_count("0")
        try:
            yield
        finally:
            self._set_unchecked_request_count(previous)

    def _set_unchecked_request_count(self, count: str) -> str:
        """How many more requests moto serves before it checks signatures
        (``inf``: never); returns the previous count."""
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset-auth",
            data=count.encode(),
            # The count is the raw body; a form content type would hide it.
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        with urllib.request.urlopen(request) as response:
            answer: dict[str, str] = json.load(response)
        return answer["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]

    def _admit(
        self, request: RecordedRequest
    ) -> tuple[Fault | None, Rendezvous | None]:
        """Log the request as it arrives; return what should happen to it."""
        with self._lock:
            self._requests.append(request)
            fault = next(
                (fault for fault in self._faults if fault.strikes(request)), None
            )
            rendezvous = next(
                (meet for meet in self._rendezvous if meet.applies_to(request)), None
            )
        return fault, rendezvous

    def _wrap(self, moto_app: WSGIApp, moto_api_app: WSGIApp) -> WSGIApp:
        def app(
            environ: dict[str, Any], start_response: StartResponse
        ) -> Iterable[bytes]:
            if environ.get("PATH_INFO", "").startswith("/moto-api"):
                return moto_api_app(environ, start_response)
            method = environ["REQUEST_METHOD"]
            with self._lock:
                self._in_flight[method] += 1
                self.max_in_flight = max(
                    self.max_in_flight, sum(self._in_flight.values())
                )
                self.max_in_flight_by_method[method] = max(
                    self.max_in_flight_by_method[method], self._in_flight[method]
                )
            try:
                return respond(environ, start_response)
            finally:
                with self._lock:
                    self._in_flight[method] -= 1

        def respond(
            environ: dict[str, Any], start_response: StartResponse
        ) -> Iterable[bytes]:
            request = _parse_request(environ)
            fault, rendezvous = self._admit(request)
            if self.delay_seconds:
                time.sleep(self.delay_seconds)
            if rendezvous is not None:
                rendezvous.wait()
            if fault is None:
                return moto_app(environ, start_response)
            if fault.action == "stall":
                fault.released.wait(fault.stall_seconds)
            if fault.action in ("stall", "reset"):
                _reset(environ)
            # Drain the body so the client sees the error, not a broken pipe.
            get_input_stream(environ).read()
            body = _error_body(fault, request)
            headers = [
                ("Content-Type", "application/xml"),
                ("Content-Length", str(len(body))),
            ]
            start_response(f"{fault.status} Injected", headers)
            return [body]

        return app


def _reset(environ: dict[str, Any]) -> NoReturn:
    """Drop the connection with a TCP reset instead of answering."""
    connection: socket.socket = environ["werkzeug.socket"]
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raise InjectedReset("connection reset by the test server")
