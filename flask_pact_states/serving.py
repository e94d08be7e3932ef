"""The runner's WSGI server: werkzeug, with a few long-lived request threads.

The verifier opens a new connection for every request (three per interaction
with states and teardown), and werkzeug's threaded server starts a thread for
each. Handing connections to a few threads started once instead made a
1,000-interaction run about a quarter faster (benchmarks/fast.py). A
single-threaded server is as fast but worse when a handler hangs: every
later request would queue behind it, where these spare threads let the
next state change answer "busy" (``PACT_STATES_LOCK_TIMEOUT``).

A keep-alive server (werkzeug with HTTP/1.1, waitress, cheroot) saves
nothing here: the verifier builds a new HTTP client, hence a new
connection, for every interaction (measured: within noise).

The threads are daemons, so a hung handler never blocks the process's exit.
"""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, TypeVar

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

if TYPE_CHECKING:
    from flask import Flask

T = TypeVar("T")

#: Request threads. The verifier sends one request at a time; the others
#: serve the calls that arrive while a handler hangs.
POOL_SIZE: Final = 4
#: How long closing the server waits for each request thread.
_JOIN_TIMEOUT: Final = 1.0


class QuietRequestHandler(WSGIRequestHandler):
    """No access log: the report says what happened."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


class PooledWSGIServer(BaseWSGIServer):
    """A werkzeug server whose requests run on ``POOL_SIZE`` daemon threads."""

    multithread = True

    def __init__(self, host: str, port: int, app: Any) -> None:
        super().__init__(host, port, app, QuietRequestHandler)
        self._requests: queue.SimpleQueue[tuple[socket.socket, Any] | None] = (
            queue.SimpleQueue()
        )
        self._threads = [
            threading.Thread(
                target=self._work, name=f"pact-verify-request-{n}", daemon=True
            )
            for n in range(POOL_SIZE)
        ]
        for thread in self._threads:
            thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        self._requests.put((request, client_address))

    def _work(self) -> None:
        while (item := self._requests.get()) is not None:
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except BaseException:  # pytest.fail() in a handler must not end a thread
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    def server_close(self) -> None:
        """Close the socket and end the threads (a hung one is left behind)."""
        super().server_close()
        for _ in self._threads:
            self._requests.put(None)
        for thread in self._threads:
            thread.join(_JOIN_TIMEOUT)


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1, port 0, in a thread; yield its base URL.

    .. versionadded:: 0.1
    """
    server = PooledWSGIServer("127.0.0.1", 0, app)
    thread = threading.Thread(
        target=server.serve_forever,
        # shutdown() waits up to one poll interval; the default is 0.5 s.
        kwargs={"poll_interval": 0.05},
        name="pact-verify-server",
        daemon=True,
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run_in_worker(func: Callable[[], T]) -> T:
    """Call ``func`` in a daemon thread and wait for it.

    The verifier's FFI call blocks its thread for the whole run; a main thread
    blocked in it would see Ctrl-C only at the end. Waiting on an event
    instead lets ``KeyboardInterrupt`` through at once, so the caller can stop
    the server and undo states while the verifier is still running.
    """
    outcome: list[Any] = []
    done = threading.Event()

    def target() -> None:
        try:
            outcome.append((True, func()))
        except BaseException as error:  # re-raised in the caller's thread
            outcome.append((False, error))
        finally:
            done.set()

    thread = threading.Thread(target=target, name="pact-verifier", daemon=True)
    thread.start()
    done.wait()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]
