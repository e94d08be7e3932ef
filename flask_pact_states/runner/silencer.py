"""Keeps the verifier's own console report off the process's stdout.

The verifier prints its report to file descriptor 1 (no FFI option turns that
off); the runner prints its own instead.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class StdoutSilencer:
    """Points file descriptor 1 at /dev/null while the verifier runs.

    The verifier prints its own report to the process's stdout (no FFI option
    turns that off); we print ours instead. Nested and concurrent users share
    one redirection, counted, so the last one out restores the original.
    :meth:`close` restores it from another thread when the run is abandoned.
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
        self._stop()

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
