"""Runtime plumbing of ``flask pact-verify``: interrupts, logging and progress.

The parts of ``flask pact-verify`` that are about the terminal and the
process rather than the command's options; :mod:`flask_pact_states.cli` uses
them.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import IO, Final, NoReturn

import click

#: Show progress only for runs at least this long (interactions).
_PROGRESS_FROM: Final = 20
_LOGGERS: Final = ("flask_pact_states", "pact", "waitress")


def exit_interrupted() -> NoReturn:
    """Say what was undone, then leave at once with status 130.

    verify() has stopped the server and undone every state. The verifier's
    FFI call cannot be cancelled and still runs in its thread, and a hung
    handler may hold the state lock; a normal interpreter exit would wait for
    them (and let the verifier print its report), so this skips it.
    """
    # Imported here: every ``flask`` command of the project loads this module.
    from .provider.mocking import active_patch_count

    left = active_patch_count()
    if left:
        # A handler still running (hung) may patch after the undo.
        done = (
            f"stopped the server; {left} patch(es) are still in place, made by a"
            " state handler that is still running"
        )
    else:
        done = "stopped the server and undid every state change"
    click.echo(f"\nInterrupted: {done}.", err=True)
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    _release_worker_semaphores()
    os._exit(130)


def _release_worker_semaphores() -> None:
    """Unlink the named semaphores of a ``--jobs`` pool, as a normal exit would.

    ``os._exit`` skips :mod:`multiprocessing`'s exit finalizers, and its
    resource tracker then warns about "leaked semaphore objects" (and
    unlinks them itself). Finalizers of priority 0 and up unlink semaphores
    and close queues; none of them waits for a process or thread.
    """
    from multiprocessing import util

    with suppress(Exception):
        util._run_finalizers(0)  # type: ignore[attr-defined]


@contextmanager
def interrupts_on_sigterm() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so that the same clean-up runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def logging_to_stderr(level_name: str) -> Iterator[None]:
    """Log our and the verifier's records at ``level_name`` on stderr.

    ``off`` still installs the handler, above every level, so that Python's
    last-resort handler does not print warnings the report already explains.
    """
    level = logging.CRITICAL + 1 if level_name == "off" else _level(level_name)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    handler.addFilter(_not_a_state_change_failure)
    # The verifier forwards its events at the level of "pact.ffi" when the
    # first Verifier is made; below that, records never reach Python.
    loggers = [logging.getLogger(name) for name in (*_LOGGERS, "pact.ffi")]
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers[: len(_LOGGERS)]:
        logger.addHandler(handler)
    for logger in loggers:
        logger.setLevel(level)
    # Forward the verifier's errors even when they are not shown: a failed
    # publication to the broker is only ever logged, and the runner reads it.
    loggers[-1].setLevel(min(level, logging.ERROR))
    try:
        yield
    finally:
        for logger, previous in saved:
            logger.setLevel(previous)
            logger.removeHandler(handler)


def _level(name: str) -> int:
    level: int = logging.getLevelNamesMapping()[name.upper()]
    return level


def _not_a_state_change_failure(record: logging.LogRecord) -> bool:
    # The verifier logs "Provider setup state change for 'x' has failed" at
    # ERROR with no reason; the report says which handler raised what.
    return not (
        record.name.startswith("pact.ffi")
        and record.getMessage().startswith(
            ("Provider setup state change", "Provider teardown state change")
        )
    )


class ProgressCounter:
    """``\\rN/M interactions`` on a terminal, for long runs only.

    It writes to its own copy of the terminal's descriptor: during the run
    descriptor 1 points at /dev/null to keep the verifier's report out.
    """

    def __init__(self, stream: IO[str], minimum: int = _PROGRESS_FROM) -> None:
        self._stream = stream
        self._minimum = minimum
        self._shown = False

    def __call__(self, started: int, expected: int | None) -> None:
        if expected is not None and expected < self._minimum:
            return
        total = f"/{expected}" if expected is not None else ""
        self._stream.write(f"\rverifying interaction {started}{total}")
        self._stream.flush()
        self._shown = True

    def finish(self) -> None:
        """Erase the counter line, so the report starts on a clean line."""
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()


@contextmanager
def progress_bar() -> Iterator[ProgressCounter | None]:
    if not sys.stdout.isatty():
        yield None
        return
    sys.stdout.flush()
    stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    counter = ProgressCounter(stream)
    try:
        yield counter
    finally:
        counter.finish()
        stream.close()
