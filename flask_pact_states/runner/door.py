"""The state door: state calls answered on a port of their own, in one thread.

Through waitress, every state call crosses three threads: the loop thread
accepts and parses it, a request thread runs it, and the loop thread writes
the answer, each hand-off a wake-up that waits for a core while the
verifier's own threads run. The verifier sends one state call at a time, on
a new connection each (measured: no keep-alive), and waits for the answer,
so those hand-offs are pure latency, about 2.8 times per interaction
(``benchmarks/RESULTS.md``, issue 20). The door accepts, reads, runs and
answers in the thread that accepted.

The door speaks just what a verifier's state call needs: one request per
connection, a body with ``Content-Length``, an answer with
``Connection: close``. Anything else gets a 4xx and the connection closed.
Every read is bounded in size and time, so a slow or broken client cannot
keep the door for long.

A handler that hangs holds its thread. The verifier then times the call out
and sends it again; a watchdog sees a call running past :data:`HUNG_AFTER`
and starts another thread on the door, so the retry still gets the
lifecycle's ``409 busy`` answer (``PACT_STATES_LOCK_TIMEOUT``) at once.
"""

from __future__ import annotations

import io
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

#: Seconds a call may run before the watchdog starts another door thread.
HUNG_AFTER: Final = 0.5
#: The most door threads at once: one per hung handler, and one that answers.
MAX_THREADS: Final = 8
#: Seconds a client may take to send its request.
READ_TIMEOUT: Final = 5.0
#: The largest request head read (request line and headers; waitress's default).
MAX_HEAD: Final = 256 * 1024
#: The largest request body read unless told (``PACT_STATES_MAX_BODY``'s default).
MAX_BODY: Final = 1024 * 1024
_END_OF_HEAD: Final = b"\r\n\r\n"
#: How long, and how much, a refused request's rest is read and dropped.
_LINGER_SECONDS: Final = 1.0
_LINGER_BYTES: Final = 4 * 1024 * 1024
#: The environ key marking a body the door did not read (too large).
_UNREAD_KEY: Final = "flask_pact_states.door.unread"
#: Headers the door sets itself: one request per connection, a known length.
_FRAMING_HEADERS: Final = frozenset({"content-length", "connection"})


class BadRequest(Exception):
    """A request the door does not take, with the status to answer."""

    def __init__(self, status: HTTPStatus, why: str) -> None:
        super().__init__(why)
        self.status = status


@contextmanager
def serve_door(app: WSGIApplication, max_body: int = MAX_BODY) -> Iterator[str]:
    """Serve ``app``'s state calls on 127.0.0.1, port 0; yield the base URL.

    A body over ``max_body`` (the app's ``PACT_STATES_MAX_BODY``) is not
    read: the app sees its declared length and answers its own 413, as it
    does behind waitress.

    The threads end when the door closes, except one in a hung handler (a
    daemon, left behind as waitress leaves its own).
    """
    listener = socket.create_server(("127.0.0.1", 0))
    door = _Door(listener, app, max_body)
    door.start_thread()
    watchdog = threading.Thread(target=door.watch, name="pact-door-watchdog")
    watchdog.daemon = True
    watchdog.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        door.close()
        watchdog.join(HUNG_AFTER * 2)


class _Door:
    """The listening socket and the threads that take calls from it."""

    def __init__(
        self, listener: socket.socket, app: WSGIApplication, max_body: int
    ) -> None:
        self._listener = listener
        self._app = app
        self._max_body = max_body
        self._port = listener.getsockname()[1]
        self._lock = threading.Lock()
        self._closed = threading.Event()
        #: When each thread's current call began (thread id -> monotonic).
        self._busy: dict[int, float] = {}
        self._threads = 0

    def start_thread(self) -> None:
        with self._lock:
            if self._threads >= MAX_THREADS or self._closed.is_set():
                return
            self._threads += 1
        name = f"pact-state-door-{self._threads}"
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def watch(self) -> None:
        """Start a spare thread while every door thread is in a long call."""
        while not self._closed.wait(HUNG_AFTER / 2):
            now = time.monotonic()
            with self._lock:
                hung = sum(now - began > HUNG_AFTER for began in self._busy.values())
                idle = self._threads - len(self._busy)
            if hung and not idle:
                self.start_thread()

    def close(self) -> None:
        self._closed.set()
        # shutdown() wakes the threads blocked in accept(); close() alone
        # would leave them blocked on Linux.
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def _serve(self) -> None:
        me = threading.get_ident()
        try:
            while not self._closed.is_set():
                try:
                    connection, _ = self._listener.accept()
                except OSError:
                    return  # closed
                with self._lock:
                    self._busy[me] = time.monotonic()
                try:
                    with connection:
                        self._answer(connection)
                finally:
                    with self._lock:
                        self._busy.pop(me, None)
        finally:
            with self._lock:
                self._threads -= 1

    def _answer(self, connection: socket.socket) -> None:
        connection.settimeout(READ_TIMEOUT)
        try:
            environ = self._read(connection)
        except BadRequest as error:
            with suppress(OSError):
                _send(connection, f"{error.status.value} {error.status.phrase}", [], [])
                _linger(connection)
            return
        except OSError:
            return  # the client went away, or timed out: nobody to answer
        status, headers, body = _call(self._app, environ)
        with suppress(OSError):
            _send(connection, status, headers, body)
            if environ.get(_UNREAD_KEY):
                _linger(connection)

    def _read(self, connection: socket.socket) -> WSGIEnvironment:
        head, rest = _read_head(connection)
        method, target, headers = _parse_head(head)
        length = _content_length(headers)
        if length > self._max_body:
            return _environ(method, target, headers, b"", self._port, length)
        body = rest[:length]
        while len(body) < length:
            chunk = connection.recv(min(65536, length - len(body)))
            if not chunk:
                raise BadRequest(HTTPStatus.BAD_REQUEST, "body cut short")
            body += chunk
        return _environ(method, target, headers, body, self._port)


def _linger(connection: socket.socket) -> None:
    """Close after a request left partly unread: closing with input pending
    resets the connection, and the client may lose the answer with it. So
    end the sending side and drop what still comes, within bounds."""
    connection.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + _LINGER_SECONDS
    dropped = 0
    while time.monotonic() < deadline and dropped < _LINGER_BYTES:
        connection.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = connection.recv(65536)
        if not chunk:
            return
        dropped += len(chunk)


def _read_head(connection: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while _END_OF_HEAD not in data:
        if len(data) > MAX_HEAD:
            raise BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "head")
        chunk = connection.recv(65536)
        if not chunk:
            raise BadRequest(HTTPStatus.BAD_REQUEST, "no request")
        data += chunk
    head, _, rest = data.partition(_END_OF_HEAD)
    if len(head) > MAX_HEAD:
        raise BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "head")
    return head, rest


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise BadRequest(HTTPStatus.BAD_REQUEST, "request line") from None
    if not version.startswith("HTTP/1.") or not target.startswith("/"):
        raise BadRequest(HTTPStatus.BAD_REQUEST, "request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(HTTPStatus.BAD_REQUEST, "header")
        headers[name.lower()] = value.strip()
    return method, target, headers


def _content_length(headers: dict[str, str]) -> int:
    if "transfer-encoding" in headers:
        raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "chunked body")
    value = headers.get("content-length", "0")
    if not value.isdigit():
        raise BadRequest(HTTPStatus.BAD_REQUEST, "content-length")
    return int(value)


def _environ(
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    port: int,
    declared: int | None = None,
) -> WSGIEnvironment:
    """The WSGI environ of a request; ``declared``: the length of a body
    left unread."""
    path, _, query = target.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(path, "latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body) if declared is None else declared),
        _UNREAD_KEY: declared is not None,
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ[key] = value
        elif key != "CONTENT_LENGTH":
            environ[f"HTTP_{key}"] = value
    return environ


def _call(
    app: WSGIApplication, environ: WSGIEnvironment
) -> tuple[str, list[tuple[str, str]], Iterable[bytes]]:
    started: list[Any] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        started[:] = [status, list(headers)]
        return lambda data: None  # the old write() callable: unused here

    response = app(environ, start_response)
    try:
        body = [b"".join(response)]
    finally:
        close = getattr(response, "close", None)
        if close is not None:
            close()
    return started[0], started[1], body


def _send(
    connection: socket.socket,
    status: str,
    headers: list[tuple[str, str]],
    body: Iterable[bytes],
) -> None:
    payload = b"".join(body)
    lines = [f"HTTP/1.1 {status}"]
    lines += [
        f"{name}: {value}"
        for name, value in headers
        if name.lower() not in _FRAMING_HEADERS
    ]
    lines += [f"Content-Length: {len(payload)}", "Connection: close", "", ""]
    connection.sendall("\r\n".join(lines).encode("latin-1") + payload)
