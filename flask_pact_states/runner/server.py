"""The runner's WSGI server: waitress on 127.0.0.1, in a thread.

The verifier opens a new connection for every request (three per interaction
with states and teardown; keep-alive is never used, measured), so what a
request costs the server matters more than anything a connection could
share. waitress parses requests and writes answers for about half what
werkzeug's development server spends (a Flask app behind each: about a
tenth of a whole verification, benchmarks/fast.py), and is pure Python with
no dependencies of its own.

Requests run on ``POOL_SIZE`` daemon threads. The verifier sends one request
at a time; the spare threads answer the calls that arrive while a handler
hangs, so that the next state change can answer "busy"
(``PACT_STATES_LOCK_TIMEOUT``), and a hung handler never blocks the
process's exit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, TypeVar

from waitress import wasyncore

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from waitress.server import TcpWSGIServer

T = TypeVar("T")

#: Request threads: one for the verifier, spares for when a handler hangs.
POOL_SIZE: Final = 4
#: How long stopping the server waits for the request threads.
_JOIN_TIMEOUT: Final = 1
#: How long it waits for the loop (a poll lasts at most 1 s, waitress's default).
_LOOP_JOIN_TIMEOUT: Final = 10


@contextmanager
def serve(app: WSGIApplication) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1, port 0, in a thread; yield its base URL.

    The server and its request threads are stopped on the way out (a thread
    stuck in a hung handler is left behind; it is a daemon).

    .. versionadded:: 0.1
    """
    from waitress.server import TcpWSGIServer

    server = TcpWSGIServer(
        app,
        host="127.0.0.1",
        port=0,
        threads=POOL_SIZE,
        # Pass X-Forwarded-* request headers to the app untouched, as the
        # pact has them (no proxy sits in front of this server).
        clear_untrusted_proxy_headers=False,
        # poll(), not select(): no limit on descriptor numbers.
        asyncore_use_poll=True,
    )
    _guard_trigger(server.trigger)
    thread = threading.Thread(target=server.run, name="pact-verify-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        _stop(server, thread)


def _stop(server: TcpWSGIServer, thread: threading.Thread) -> None:
    # waitress's loop is not thread-safe: its own thread closes every socket
    # it watches (a thunk run when the trigger is pulled), and then ends,
    # having nothing left to watch.
    socket_map = server._map  # type: ignore[attr-defined]
    trigger: Any = server.trigger  # a trigger object, not the stubs' int
    try:
        trigger.pull_trigger(lambda: wasyncore.close_all(socket_map))
    except OSError:
        # The trigger's pipe is gone (the loop closed it already: the race
        # _guard_trigger now turns into a no-op pull). Close the rest from
        # here: the loop, left with nothing to watch, ends within its poll
        # timeout, and verify() returns its results instead of raising.
        wasyncore.close_all(socket_map, ignore_all=True)
    thread.join(_LOOP_JOIN_TIMEOUT)
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=_JOIN_TIMEOUT)


def _guard_trigger(trigger: Any) -> None:
    """Make waitress's trigger safe to pull after it is closed.

    Its pull writes to the pipe's descriptor *number*, also after the pipe
    was closed: a request thread that ends after the server stopped (a hung
    handler), or :func:`_stop`'s own pull racing with the loop thread
    running the close it asked for, wrote to a number that may belong to
    someone else by then, or failed with EBADF (``test_server`` failed so
    in full runs). Pulls and the close now take one lock, and a pull after
    the close does nothing.
    """
    lock = threading.Lock()
    pull, close = trigger._physical_pull, trigger._close

    def guarded_pull() -> None:
        with lock:
            if not trigger._closed:  # set before _close runs
                pull()

    def guarded_close() -> None:
        with lock:
            close()

    trigger._physical_pull = guarded_pull
    trigger._close = guarded_close


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
