"""An S3 endpoint on 127.0.0.1 for tests, the demo and the benchmark.

moto's S3 runs in server mode inside this process, behind a thin WSGI layer
that records every request (so tests can count what S3 saw), can add a fixed
delay (to stand in for the network) and can answer chosen requests with an
error (to test failures without mocking the client).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server
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

    @property
    def kind(self) -> str:
        """``LIST`` for a bucket listing, else the HTTP method."""
        if self.method == "GET" and self.bucket and not self.key:
            return "LIST"
        return self.method


@dataclass
class Fault:
    """Answer matching requests with an S3 error instead of serving them.

    ``times`` limits how many requests fail (None: all of them), so a test can
    model both a transient and a persistent failure.
    """

    method: str
    key_pattern: str = ".*"
    status: int = 500
    code: str = "InternalError"
    times: int | None = None
    hits: int = field(default=0, init=False)

    def matches(self, request: RecordedRequest) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return request.method == self.method and bool(
            re.search(self.key_pattern, request.key)
        )


class QuietRequestHandler(MotoRequestHandler):
    """The request log is kept in memory; don't print a line per request."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def _parse_request(environ: dict[str, Any]) -> RecordedRequest:
    path = unquote(environ.get("PATH_INFO", ""))
    bucket, _, key = path.lstrip("/").partition("/")
    return RecordedRequest(
        method=environ["REQUEST_METHOD"],
        bucket=bucket,
        key=key,
        query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
        content_length=int(environ.get("CONTENT_LENGTH") or 0),
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
        self._in_flight = 0
        self.max_in_flight = 0
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

    def counts(self) -> Counter[str]:
        """Requests seen since the last clear_log(), by kind (LIST, GET, PUT...)."""
        return Counter(request.kind for request in self.requests)

    # Faults ------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _matching_fault(self, request: RecordedRequest) -> Fault | None:
        with self._lock:
            self._requests.append(request)
            for fault in self._faults:
                if fault.matches(request):
                    fault.hits += 1
                    return fault
        return None

    def _wrap(self, moto_app: WSGIApp, moto_api_app: WSGIApp) -> WSGIApp:
        def app(
            environ: dict[str, Any], start_response: StartResponse
        ) -> Iterable[bytes]:
            if environ.get("PATH_INFO", "").startswith("/moto-api"):
                return moto_api_app(environ, start_response)
            with self._lock:
                self._in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self._in_flight)
            try:
                return respond(environ, start_response)
            finally:
                with self._lock:
                    self._in_flight -= 1

        def respond(
            environ: dict[str, Any], start_response: StartResponse
        ) -> Iterable[bytes]:
            request = _parse_request(environ)
            if self.delay_seconds:
                time.sleep(self.delay_seconds)
            fault = self._matching_fault(request)
            if fault is None:
                return moto_app(environ, start_response)
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
