"""Every process-wide change a verification makes, scoped to it and undone.

A verification changes what the whole process sees in these ways, and only
here:

- ``PACT_DO_NOT_TRACK=true`` unless the user set it: otherwise the verifier
  sends usage events over the network. Restored afterwards.
- the trust store variables (:func:`minimal_trust_store`), when no source
  needs TLS;
- the garbage collector's frozen generation (:func:`existing_objects_frozen`);
- file descriptor 1, while the verifier runs (:class:`~.streams.StdoutSilencer`);
- file descriptor 2, copied through a pipe while the verifier runs
  (:class:`~.streams.StderrTail`), to read what its Rust core panics with;
- :func:`os._exit`, whose status 0 becomes 1 (:func:`exit_status_guarded`):
  a handler ending the process must not end it with "verified".
- the ``pact.ffi`` logger's level, when it has none
  (:func:`verifier_events_quiet`).
- ``TOKIO_WORKER_THREADS=1`` unless the user set it
  (:func:`one_runtime_thread`).

Each is counted, so that nested and concurrent verifications share one
setting and the last one out restores the process as it was.
:func:`verification_environment` applies them for a run, but the file
descriptors, which each verifier run changes itself.

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

Quiet verifier events
---------------------

pact-python forwards the Rust core's events into Python at the level of the
``pact.ffi`` logger, ``INFO`` when it has none: a callback that takes the GIL
for every event, several per interaction, while the app's threads need it.
``flask pact-verify`` sets that level (``--log-level``, ``WARNING`` by
default); a bare :func:`~.api.verify`, the pytest items and the ``--jobs``
workers left it unset, and verified 1,000 interactions in 4.12 s instead of
3.62 s (``benchmarks/RESULTS.md``). The level is fixed when the process
makes its first verifier, so a level set now holds for the process's life;
a level the user set on ``pact.ffi`` is kept.

One runtime thread
------------------

The verifier runs on a Tokio runtime that pact-python's core builds once per
process, with a worker thread per core unless ``TOKIO_WORKER_THREADS`` says
otherwise. A verification is a strict ping-pong (a request, then the app's
answer; a state call, then its answer), so a second worker only searches
for work, on cores the app's own threads (and other processes) need. With
one, on the 1,000-interaction benchmark pact (whole processes, 8 rounds
alternating, medians; ``benchmarks/RESULTS.md``): ``flask pact-verify``
3.69 s to 3.47 s, pytest ``-n 2`` 3.53 s to 3.35 s, ``-n 0`` 4.40 s to
4.34 s. This repository's tests, pact-python's consumer mock servers
included, pass with it. The variable is read when the runtime is built, at
the process's first verifier run, so the setting holds for the process's
life, as the events level does; a value the user set is kept.

Silenced stdout, read stderr
----------------------------

In :mod:`.streams`: the verifier prints its own report to file descriptor 1
(no FFI option turns that off; the runner prints its own instead) and its
Rust core's panics to file descriptor 2 (the report quotes them).
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Final, NoReturn

from .streams import StderrTail


@contextmanager
def verification_environment(*, trust_store_minimal: bool) -> Iterator[None]:
    """The process as a verification runs it: usage tracking off, one
    runtime thread, the minimal trust store when asked for, the existing
    heap frozen, ``os._exit(0)`` guarded, the verifier's events quiet."""
    with (
        do_not_track(),
        one_runtime_thread(),
        minimal_trust_store(trust_store_minimal),
        existing_objects_frozen(),
        exit_status_guarded(),
        verifier_events_quiet(),
    ):
        yield


#: The level the verifier forwards its events at, unless the user set one.
VERIFIER_EVENTS_LEVEL: Final = logging.WARNING


@contextmanager
def verifier_events_quiet() -> Iterator[None]:
    """Forward only the verifier's warnings and errors (the runner reads a
    failed publication from them), unless ``pact.ffi`` has a level already."""
    logger = logging.getLogger("pact.ffi")
    if logger.level != logging.NOTSET:
        yield
        return
    logger.setLevel(VERIFIER_EVENTS_LEVEL)
    try:
        yield
    finally:
        logger.setLevel(logging.NOTSET)


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


#: Tokio's setting for its runtime's worker threads.
_RUNTIME_THREADS: Final = "TOKIO_WORKER_THREADS"
#: Unless the user chose a number of runtime threads.
_runtime_threads = _ScopedVariables(
    lambda: {} if _RUNTIME_THREADS in os.environ else {_RUNTIME_THREADS: "1"}
)


def one_runtime_thread() -> AbstractContextManager[None]:
    """``TOKIO_WORKER_THREADS=1`` meanwhile, unless the user set it: the
    verifier's runtime, built at its first run, gets one worker thread."""
    return _runtime_threads.applied()


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
        saved = StderrTail.saved_stderr()
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
