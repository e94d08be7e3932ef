"""File descriptors 1 and 2 while the verifier runs: process-wide changes
listed in :mod:`.process`, scoped to the run.

The verifier prints its own report to file descriptor 1 (no FFI option turns
that off) and its Rust core's panics to file descriptor 2, and nowhere else:
:class:`StdoutSilencer` keeps the report off stdout (the runner prints its
own), :class:`StderrTail` reads the panic for the report.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import IO, ClassVar, Final


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
    _generation = 0
    _saved: int | None = None
    _tail: ClassVar[bytearray] = bytearray()
    _seen = 0
    _marks: ClassVar[dict[bytes, threading.Event]] = {}

    @classmethod
    @contextmanager
    def captured(cls) -> Iterator[Callable[[], str]]:
        """Meanwhile, a function returning what reached stderr since entering
        (at most :data:`TAIL_BYTES` of its end)."""
        generation, start = cls._begin()
        try:
            yield lambda: cls._since(start)
        finally:
            cls._end(generation)

    @classmethod
    def _begin(cls) -> tuple[int, int | None]:
        with cls._lock:
            if cls._depth == 0:
                cls._open_pipe()
            cls._depth += 1
            return cls._generation, cls._seen if cls._saved is not None else None

    @classmethod
    def _open_pipe(cls) -> None:
        _flush(sys.stderr)
        try:
            saved, out = os.dup(2), os.dup(2)
        except OSError:  # no stderr at all: nothing to read
            return
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        cls._saved = saved
        reader = threading.Thread(
            target=cls._copy, args=(read_end, out), name="pact-stderr-tail"
        )
        reader.daemon = True
        reader.start()

    @classmethod
    def _end(cls, generation: int) -> None:
        with cls._lock:
            if generation != cls._generation:
                return  # released meanwhile: not counted any more
            cls._depth -= 1
            if cls._depth == 0:
                cls._restore()

    @classmethod
    def release(cls) -> None:
        """Give file descriptor 2 back now, while users are still inside.

        For a run abandoned by Ctrl-C: its verifier goes on in a thread, and
        what the process writes to stderr before it ends (``os._exit``) must
        not wait in the pipe for the copying thread. Users still inside are
        forgotten: the next one opens a new pipe.
        """
        with cls._lock:
            cls._restore()
            cls._depth = 0
            cls._generation += 1

    @classmethod
    def _restore(cls) -> None:
        if cls._saved is not None:
            _flush(sys.stderr)
            # The reader sees the end of the pipe once no process holds its
            # write end (a --jobs worker started meanwhile may).
            os.dup2(cls._saved, 2)
            os.close(cls._saved)
            cls._saved = None

    @classmethod
    def saved_stderr(cls) -> int | None:
        """The original stderr's descriptor while the pipe stands in for it."""
        return cls._saved

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
                chunk, arrived = cls._take_marks(chunk)
                with suppress(OSError):
                    os.write(out, chunk)
                with cls._lock:
                    cls._tail += chunk
                    del cls._tail[:-TAIL_BYTES]
                    cls._seen += len(chunk)
                for event in arrived:  # only now: what came before is kept
                    event.set()
        finally:
            os.close(read_end)
            os.close(out)

    @classmethod
    def _take_marks(cls, chunk: bytes) -> tuple[bytes, list[threading.Event]]:
        arrived = []
        with cls._lock:
            for mark, event in cls._marks.items():
                if mark in chunk:
                    chunk = chunk.replace(mark, b"")
                    arrived.append(event)
        return chunk, arrived


#: How much of stderr :class:`StderrTail` keeps.
TAIL_BYTES: Final = 16 * 1024
#: How long reading the tail waits for the copying thread.
_MARK_WAIT: Final = 1.0


def _flush_stdout() -> None:
    _flush(sys.stdout)


def _flush(stream: IO[str] | None) -> None:
    if stream is not None:
        with suppress(OSError, ValueError):
            stream.flush()
