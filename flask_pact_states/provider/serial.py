"""One state change at a time per app, and no lifecycle change outside that.

A state change may hang (a handler stuck in a loop). Whoever gives up waiting
for it (the next state call, a reset at the end of a run, the app going
away) must not change the lifecycle while the handler still runs in it:
:meth:`SerialLock.defer` leaves that work to whoever holds the lock, who runs
it before letting anyone else in. So the late handler's thread itself ends its
interaction when it returns, undoing what it set up after the others gave up.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

logger = logging.getLogger("flask_pact_states")


class SerialLock:
    """A lock, plus the work that callers who could not take it left behind.

    Deferred work runs in order, under the lock, when it is next taken or
    released, and always before any other holder's own work.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deferred: deque[Callable[[], None]] = deque()

    def acquire(self, timeout: float) -> bool:
        """Take the lock within ``timeout`` seconds (-1: wait for ever).

        :returns: whether it was taken; deferred work has run if so.
        """
        if not self._lock.acquire(timeout=timeout):
            return False
        try:
            self._run_deferred()
        except BaseException:
            self._lock.release()
            raise
        return True

    def release(self) -> None:
        """Run the work deferred meanwhile, then let the next holder in."""
        while True:
            try:
                self._run_deferred()
            finally:
                self._lock.release()
            # Work deferred between the run and the release: whoever takes the
            # lock runs it, and if nobody is waiting, this thread does.
            if not self._deferred or not self._lock.acquire(blocking=False):
                return

    def defer(self, work: Callable[[], None]) -> None:
        """Have ``work`` run under the lock: now if it is free, else by its
        holder before anyone else gets it."""
        self._deferred.append(work)
        if self._lock.acquire(blocking=False):
            self.release()

    def _run_deferred(self) -> None:
        while self._deferred:
            work = self._deferred.popleft()
            try:
                work()
            except Exception:
                # Nobody waits for deferred work: an error in undoing a late
                # handler's interaction must not fail an unrelated state call.
                logger.exception("Deferred undo of a provider state failed.")
