"""Every process-wide change a verification makes, scoped to it and undone.

A verification changes what the whole process sees in four ways, and only
here:

- ``PACT_DO_NOT_TRACK=true`` unless the user set it: otherwise the verifier
  sends usage events over the network. Restored afterwards.
- the trust store variables (:func:`minimal_trust_store`), when no source
  needs TLS;
- the garbage collector's frozen generation (:func:`existing_objects_frozen`);
- file descriptor 1, while the verifier runs (:class:`StdoutSilencer`);
- file descriptor 2, copied through a pipe while the verifier runs
  (:class:`StderrTail`), to read what its Rust core panics with;
- :func:`os._exit`, whose status 0 becomes 1 (:func:`exit_status_guarded`):
  a handler ending the process must not end it with "verified".

Each is counted, so that nested and concurrent verifications share one
setting and the last one out restores the process as it was.
:func:`verification_environment` applies the first three for a run.

Minimal trust store
-------------------

A minimal trust store for verifier runs that fetch nothing over TLS.

The Rust verifier builds a new HTTP client for every interaction, and every
build loads the whole system trust store (hundreds of files under
``/etc/ssl/certs``): a fifth of its CPU time, and more than half the wall
time of a local run. A run whose sources are local files (pacts that need
a plugin, which the verifier would fetch, are refused), against the app
served on ``http://127.0.0.1``, never makes a TLS connection,
so no certificate is ever checked. Pointing ``SSL_CERT_FILE`` at one
certificate shipped with the package (self-signed, its private key
discarded: it vouches for no server) and ``SSL_CERT_DIR`` at an empty
directory makes each build cheap and changes no outcome.

Runs with a URL source (a plain-HTTP one may redirect to HTTPS) or a Pact
Broker keep the system store.

The variables are process-wide: while a run goes, another thread of the same
process that builds a TLS client from the environment (e.g. an app view
calling an HTTPS API) would trust only that one certificate and fail. Turn
the store off with ``--system-trust-store`` (``minimal_trust_store=False``,
or ``PACT_STATES_MINIMAL_TRUST_STORE = False``) for such apps.

Frozen heap
-----------

Keep the garbage collector off the objects a verification outlives.

The modules, the app and the plan exist before the run and outlive it, yet
every full collection during the run goes over them again. On the app of
``benchmarks/fast.py``, 1,000 interactions spent 0.12 s in full collections,
and 0.02 s with them frozen (timed with :data:`gc.callbacks`); a ``--jobs``
worker's exit, whose final collection the pool's shutdown waits for, went
from 0.15-0.2 s to 0.03 s. :func:`gc.freeze` moves them out of the
collector's sight; objects made during the run are collected as usual.

Silenced stdout
---------------

Keeps the verifier's own console report off the process's stdout.

The verifier prints its report to file descriptor 1 (no FFI option turns that
off); the runner prints its own instead.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import IO, ClassVar, Final, NoReturn


@contextmanager
def verification_environment(*, trust_store_minimal: bool) -> Iterator[None]:
    """The process as a verification runs it: usage tracking off, the
    minimal trust store when asked for, the existing heap frozen."""
    with (
        do_not_track(),
        minimal_trust_store(trust_store_minimal),
        existing_objects_frozen(),
        exit_status_guarded(),
    ):
        yield


class _ScopedVariables:
    """Environment variables set while at least one user is inside.

    The first one in sets the variables ``make`` returns, the last one out
    restores them as they were (unset ones are unset again) and hands them
    to ``release``, whatever the nesting or threads.
    """

    def __init__(
        self,
        make: Callable[[], dict[str, str]],
        release: Callable[[dict[str, str]], None] = lambda values: None,
    ) -> None:
        self._make = make
        self._release = release
        self._lock = threading.Lock()
        self._depth = 0
        self._values: dict[str, str] = {}
        self._saved: dict[str, str | None] = {}

    @contextmanager
    def applied(self) -> Iterator[None]:
        with self._lock:
            self._depth += 1
            if self._depth == 1:
                self._values = self._make()
                self._saved = {name: os.environ.get(name) for name in self._values}
                os.environ.update(self._values)
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if not self._depth:
                    self._restore()

    def _restore(self) -> None:
        # The environment first: a failed clean-up must not leave the whole
        # process with the run's settings.
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._release(self._values)


#: Unless the user chose: their value stands during and after the run.
_tracking = _ScopedVariables(
    lambda: {} if "PACT_DO_NOT_TRACK" in os.environ else {"PACT_DO_NOT_TRACK": "true"}
)


def do_not_track() -> AbstractContextManager[None]:
    """``PACT_DO_NOT_TRACK=true`` meanwhile, unless the user set it."""
    return _tracking.applied()


#: The one certificate of the minimal store (public, no key exists).
CERTIFICATE: Final = Path(__file__).with_name("minimal-trust-store.pem")
_trust = _ScopedVariables(
    lambda: {
        "SSL_CERT_FILE": str(CERTIFICATE),
        "SSL_CERT_DIR": tempfile.mkdtemp(prefix="pact-trust-"),
    },
    lambda values: shutil.rmtree(values["SSL_CERT_DIR"], ignore_errors=True),
)


def minimal_trust_store(enabled: bool = True) -> AbstractContextManager[None]:
    """Point ``SSL_CERT_FILE``/``SSL_CERT_DIR`` at a minimal store meanwhile.

    Nested and concurrent users share one setting; the last one out restores
    the environment as it was (variables that were unset are unset again).

    :param enabled: when false, change nothing.
    """
    return _trust.applied() if enabled else nullcontext()


@contextmanager
def existing_objects_frozen() -> Iterator[None]:
    """Freeze every object that exists now, and thaw them on the way out.

    A process that froze objects of its own (a pre-forking server, say) is
    left as it is: thawing would undo its freeze too.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        # Back in the oldest generation: what became garbage meanwhile is
        # collected as usual from here on.
        gc.unfreeze()


_real_exit: Final = os._exit
_exit_guard_lock = threading.Lock()
_exit_guard_depth = 0
#: What a guarded ``os._exit(0)`` exits with instead.
GUARDED_EXIT_STATUS: Final = 1


def _guarded_exit(status: int) -> NoReturn:
    """``os._exit`` during a verification: never with 0, which says "verified"."""
    if status == 0:
        # The real stderr: file descriptor 2 may be StderrTail's pipe, whose
        # copying thread dies with the process before passing this on.
        saved = StderrTail._saved
        with suppress(OSError):
            os.write(
                2 if saved is None else saved,
                b"flask-pact-states: os._exit(0) was called during a verification"
                b" (by a state handler or the app?), before any report: exiting"
                b" with status 1, as nothing was verified.\n",
            )
        status = GUARDED_EXIT_STATUS
    _real_exit(status)


@contextmanager
def exit_status_guarded() -> Iterator[None]:
    """Meanwhile, ``os._exit(0)`` exits with status 1 instead.

    A handler or view that ends the process mid-run would otherwise end it
    with 0, and a CI job would read "verified" with no report. Nested and
    concurrent users share it; the last one out restores ``os._exit``.
    """
    global _exit_guard_depth
    with _exit_guard_lock:
        _exit_guard_depth += 1
        os._exit = _guarded_exit
    try:
        yield
    finally:
        with _exit_guard_lock:
            _exit_guard_depth -= 1
            if not _exit_guard_depth:
                os._exit = _real_exit


class StdoutSilencer:
    """Points file descriptor 1 at /dev/null while the verifier runs.

    The verifier prints its own report to the process's stdout (no FFI option
    turns that off); we print ours instead. Nested and concurrent users share
    one redirection, counted, so the last one out restores the original.
    :meth:`close` stops new redirections when the run is abandoned (Ctrl-C);
    a verifier still running keeps its own until it returns, so that its
    report never reaches stdout.
    """

    _lock = threading.Lock()
    _depth = 0
    _saved: int | None = None

    def __init__(self) -> None:
        self._active = False
        self._closed = False

    @contextmanager
    def silenced(self) -> Iterator[None]:
        self._start()
        try:
            yield
        finally:
            self._stop()

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def _start(self) -> None:
        cls = type(self)
        with cls._lock:
            if self._active or self._closed:
                return
            if cls._depth == 0:
                _flush_stdout()
                try:
                    saved = os.dup(1)
                except OSError:  # no stdout at all: nothing to silence
                    return
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.close(devnull)
                cls._saved = saved
            cls._depth += 1
            self._active = True

    def _stop(self) -> None:
        cls = type(self)
        with cls._lock:
            if not self._active:
                return
            self._active = False
            cls._depth -= 1
            if cls._depth == 0 and cls._saved is not None:
                _flush_stdout()
                os.dup2(cls._saved, 1)
                os.close(cls._saved)
                cls._saved = None


def _flush_stdout() -> None:
    if sys.stdout is not None:
        with suppress(OSError, ValueError):
            sys.stdout.flush()


class StderrTail:
    """Copies file descriptor 2 through a pipe while verifiers run, keeping
    the last :data:`TAIL_BYTES` of it.

    A panic in the verifier's Rust core is printed to file descriptor 2, and
    nowhere else: the report needs it to say why the verifier failed. What
    goes through still reaches the original stderr (a thread copies it).
    Nested and concurrent users share one pipe, counted; the last one out
    restores file descriptor 2.
    """

    _lock = threading.Lock()
    _depth = 0
    _saved: int | None = None
    _tail: ClassVar[bytearray] = bytearray()
    _seen = 0
    _marks: ClassVar[dict[bytes, threading.Event]] = {}

    @classmethod
    @contextmanager
    def captured(cls) -> Iterator[Callable[[], str]]:
        """Meanwhile, a function returning what reached stderr since entering
        (at most :data:`TAIL_BYTES` of its end)."""
        start = cls._begin()
        try:
            yield lambda: cls._since(start)
        finally:
            cls._end()

    @classmethod
    def _begin(cls) -> int | None:
        with cls._lock:
            if cls._depth == 0:
                _flush(sys.stderr)
                try:
                    saved, out = os.dup(2), os.dup(2)
                except OSError:  # no stderr at all: nothing to read
                    return None
                read_end, write_end = os.pipe()
                os.dup2(write_end, 2)
                os.close(write_end)
                cls._saved = saved
                reader = threading.Thread(
                    target=cls._copy, args=(read_end, out), name="pact-stderr-tail"
                )
                reader.daemon = True
                reader.start()
            cls._depth += 1
            return cls._seen if cls._saved is not None else None

    @classmethod
    def _end(cls) -> None:
        with cls._lock:
            cls._depth -= 1
            if cls._depth == 0 and cls._saved is not None:
                _flush(sys.stderr)
                # The reader sees the end of the pipe once no process holds
                # its write end (a --jobs worker started meanwhile may).
                os.dup2(cls._saved, 2)
                os.close(cls._saved)
                cls._saved = None

    @classmethod
    def release(cls) -> None:
        """Give file descriptor 2 back now, while users are still inside.

        For a run abandoned by Ctrl-C: its verifier goes on in a thread, and
        what the process writes to stderr before it ends (``os._exit``) must
        not wait in the pipe for the copying thread.
        """
        with cls._lock:
            if cls._saved is not None:
                _flush(sys.stderr)
                os.dup2(cls._saved, 2)
                os.close(cls._saved)
                cls._saved = None

    @classmethod
    def _since(cls, start: int | None) -> str:
        if start is None:
            return ""
        mark = f"\x00pact-stderr-mark-{id(object())}\x00".encode()
        arrived = threading.Event()
        with cls._lock:
            cls._marks[mark] = arrived
        with suppress(OSError):
            os.write(2, mark)
        arrived.wait(timeout=_MARK_WAIT)  # what came before it is read
        with cls._lock:
            cls._marks.pop(mark, None)
            kept = cls._tail[max(0, len(cls._tail) - (cls._seen - start)) :]
        return bytes(kept).decode("utf-8", "replace")

    @classmethod
    def _copy(cls, read_end: int, out: int) -> None:
        try:
            while chunk := os.read(read_end, 65536):
                chunk = cls._take_marks(chunk)
                with suppress(OSError):
                    os.write(out, chunk)
                with cls._lock:
                    cls._tail += chunk
                    del cls._tail[:-TAIL_BYTES]
                    cls._seen += len(chunk)
        finally:
            os.close(read_end)
            os.close(out)

    @classmethod
    def _take_marks(cls, chunk: bytes) -> bytes:
        with cls._lock:
            for mark, arrived in cls._marks.items():
                if mark in chunk:
                    chunk = chunk.replace(mark, b"")
                    arrived.set()
        return chunk


#: How much of stderr :class:`StderrTail` keeps.
TAIL_BYTES: Final = 16 * 1024
#: How long reading the tail waits for the copying thread.
_MARK_WAIT: Final = 1.0


def _flush(stream: IO[str] | None) -> None:
    if stream is not None:
        with suppress(OSError, ValueError):
            stream.flush()
