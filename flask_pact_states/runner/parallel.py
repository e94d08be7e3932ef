"""Verifier runs in parallel processes (``--jobs N``).

Two verifiers could run at once in one process, but state handlers patch
module globals, which threads share: parallel runs need one app per
process. ``--jobs N`` is this process, whose app is already built and
served, plus N - 1 worker processes. Each worker is started with the
``spawn`` method (forking a process whose FFI has been used can hang the
child), builds its own app from the same factory and serves it on its own
port. All of them take whole :class:`~.plan.VerifierRun` values (chunks or
pacts) from one :class:`RunQueue` as they become free, so a slow chunk holds
up no one. The outcomes are merged in plan order, so the result is the one a
single process would build.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, suppress
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from ..errors import PactStatesError, VerificationSetupError, WorkerDiedError
from ..provider.journal import StateChangeRecord
from .options import AppFactory
from .process import VERIFIER_EVENTS_LEVEL
from .results import RunOutcome

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event

    from flask import Flask

    from .execution import Target
    from .plan import VerificationPlan, VerifierRun

#: prctl(2): the signal a process gets when its parent thread ends.
_PR_SET_PDEATHSIG: Final = 1
#: A worker's exit status when its parent died.
_ORPHAN_EXIT: Final = 3
#: How long stopping the pool waits for its feeder thread.
_FEEDER_JOIN_TIMEOUT: Final = 5.0

#: The worker process's served app: target, and the list records go to.
_worker: dict[str, Any] = {}


def load_app(factory: AppFactory) -> Flask:
    """Build the app from ``factory``, the way ``flask --app`` would."""
    if callable(factory):
        return factory()
    from flask.cli import ScriptInfo

    return ScriptInfo(app_import_path=factory).load_app()


class RunQueue:
    """The plan's runs, each handed out once, to whoever asks first.

    Closing it hands out nothing more: a failed worker stops the others
    after their current run.
    """

    def __init__(self, runs: Iterable[VerifierRun]) -> None:
        self._runs = iter(enumerate(runs))
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> tuple[int, VerifierRun] | None:
        """The next run and its index in the plan, or ``None`` when done."""
        with self._lock:
            return None if self._closed else next(self._runs, None)

    def close(self) -> None:
        with self._lock:
            self._closed = True


class WorkerPool:
    """Spawned worker processes that take runs from a :class:`RunQueue`.

    :param size: how many worker processes.
    :param direct_state_calls: as for :func:`~.api.verify`.
    :param on_done: called with each finished run, from a pool thread.
    """

    def __init__(
        self,
        factory: AppFactory,
        size: int,
        direct_state_calls: bool,
        on_done: Callable[[VerifierRun], None] | None = None,
    ) -> None:
        self._factory = factory
        self._on_done = on_done
        context = multiprocessing.get_context("spawn")
        # Set by workers: tells a worker that never built the app (a usage
        # error) from one that died during the run; BrokenProcessPool says
        # neither.
        self._started, self._failed = context.Event(), context.Event()
        self._pool = ProcessPoolExecutor(
            size,
            mp_context=context,
            initializer=_start_worker,
            initargs=(
                factory,
                direct_state_calls,
                self._started,
                self._failed,
                os.getpid(),
            ),
        )
        # At most one run per worker taken from the queue and not finished:
        # the next is taken when one finishes, so that the queue stays
        # shared fairly (the first ones wait for the workers to start).
        self._slots = threading.Semaphore(size)
        self._futures: dict[Future[RunOutcome], int] = {}
        self._feeder: threading.Thread | None = None
        self._queue: RunQueue | None = None
        # A run taken from the queue that no worker got: the pool broke.
        self._lost_run = False
        # The feeder spawns the workers (the executor spawns them in submit),
        # and on Linux a worker dies when the thread that spawned it ends
        # (PR_SET_PDEATHSIG): it waits for this, set once they are gone.
        self._fed = threading.Event()
        self._workers_gone = threading.Event()

    def take_from(self, queue: RunQueue, plan: VerificationPlan) -> None:
        """Start feeding the workers runs from ``queue``, in a thread."""
        # Workers need no pact documents, nor the other runs.
        slim = replace(plan, pacts=(), runs=())
        self._queue = queue
        self._feeder = threading.Thread(
            target=self._feed, args=(queue, slim), name="pact-verify-feeder"
        )
        self._feeder.daemon = True
        self._feeder.start()

    def outcomes(self) -> dict[int, RunOutcome]:
        """Wait for every run the workers took; their outcomes by plan index.

        :raises VerificationSetupError: when a worker cannot build or serve
            the app.
        :raises WorkerDiedError: when a worker process ends during the run.
        """
        if self._feeder is not None:
            self._fed.wait()
        outcomes: dict[int, RunOutcome] = {}
        try:
            for future, index in self._futures.items():
                outcomes[index] = future.result()
        except BrokenProcessPool:
            self.stop()
            raise self._broken() from None
        except BaseException:
            self.stop()
            raise
        if self._lost_run:
            self.stop()
            raise self._broken()
        self._pool.shutdown()
        self._release_feeder()
        return outcomes

    def stop(self) -> None:
        """Stop the workers now: a verifier mid-run would go on for its run."""
        if self._queue is not None:
            self._queue.close()
        # The executor has no public way to end running tasks. Its process
        # table, read after shutdown: a submit spawning a worker holds the
        # lock shutdown takes, so that worker is in the table by then.
        table = self._pool._processes
        self._pool.shutdown(wait=False, cancel_futures=True)
        processes = list((table or {}).values())
        for process in processes:
            process.terminate()
        for process in processes:
            process.join()
        self._release_feeder()

    def _release_feeder(self) -> None:
        self._workers_gone.set()
        if self._feeder is not None and self._feeder is not threading.current_thread():
            self._feeder.join(timeout=_FEEDER_JOIN_TIMEOUT)

    def _feed(self, queue: RunQueue, plan: VerificationPlan) -> None:
        try:
            self._feed_runs(queue, plan)
        finally:
            self._fed.set()
            # Outlive the workers this thread spawned (see __init__).
            self._workers_gone.wait()

    def _feed_runs(self, queue: RunQueue, plan: VerificationPlan) -> None:
        while True:
            self._slots.acquire()
            item = queue.take()
            if item is None:
                return
            index, run = item
            try:
                future = self._pool.submit(_execute, run, plan)
            except (BrokenProcessPool, RuntimeError):
                self._lost_run = True
                queue.close()  # outcomes() says why
                return
            self._futures[future] = index
            future.add_done_callback(functools.partial(self._finished, run=run))

    def _finished(self, future: Future[RunOutcome], run: VerifierRun) -> None:
        if future.cancelled() or future.exception() is not None:
            # Stop anyone taking more (before the feeder may take the next
            # run): the verification fails either way.
            if self._queue is not None:
                self._queue.close()
        elif self._on_done is not None:
            self._on_done(run)
        self._slots.release()

    def _broken(self) -> PactStatesError:
        """The error for a broken pool: the app did not start, or a worker died."""
        if self._failed.is_set() or not self._started.is_set():
            msg = (
                f"A verification worker could not start the app from"
                f" {self._factory!r}; run with --jobs 1 to see the error."
            )
            return VerificationSetupError(msg)
        msg = (
            "A verification worker process died during the run (a state handler"
            " or view may have called os._exit, or crashed in native code), so"
            " the verification did not finish. Run with --jobs 1 to see which"
            " interaction ends the process."
        )
        return WorkerDiedError(msg)


def _start_worker(
    factory: AppFactory,
    direct_state_calls: bool,
    started: Event,
    failed: Event,
    parent_pid: int,
) -> None:
    """Build and serve this worker's app until the process ends."""
    die_with_parent(parent_pid)
    try:
        _serve_worker_app(factory, direct_state_calls)
    except BaseException:
        failed.set()
        raise
    started.set()


def die_with_parent(parent_pid: int) -> None:
    """End this process when its parent ends, however it ends (SIGKILL too).

    An orphaned worker would keep serving the app and its state endpoint on
    127.0.0.1. On Linux the kernel kills it (``PR_SET_PDEATHSIG``, sent when
    the thread that spawned it ends: the pool's feeder outlives the
    workers). Everywhere, a watchdog thread waits on the pipe
    :mod:`multiprocessing` keeps open to the parent, which closes when the
    parent dies, and checks the parent's pid once a second.
    """
    if sys.platform == "linux":
        with suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # it died before the line above
        os._exit(_ORPHAN_EXIT)
    parent = multiprocessing.parent_process()
    sentinel = parent.sentinel if parent is not None else None
    watchdog = threading.Thread(
        target=_watch_parent, args=(parent_pid, sentinel), daemon=True
    )
    watchdog.start()


def _watch_parent(parent_pid: int, sentinel: int | None) -> None:
    from multiprocessing.connection import wait

    while True:
        if sentinel is not None and wait([sentinel], timeout=1.0):
            os._exit(_ORPHAN_EXIT)  # the pipe closed: the parent is gone
        if sentinel is None:
            time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(_ORPHAN_EXIT)


def _serve_worker_app(factory: AppFactory, direct_state_calls: bool) -> None:
    from .execution import app_states, served_app
    from .serving import serve_target

    app = load_app(factory)
    states = app_states(app)
    # The verifier's report goes to stdout; the parent prints ours.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    stack = ExitStack()
    wsgi_app = served_app(app, direct_state_calls=direct_state_calls)
    target = stack.enter_context(
        serve_target(wsgi_app, states.settings, door=direct_state_calls)
    )
    records: list[StateChangeRecord] = []
    stack.enter_context(states.journal.listen(records.append))
    # Stop the server at exit, while its threads can still run. Left to the
    # interpreter's final clean-up, the stop can wait out its 1 s timeout
    # for threads that no longer run (seen with this set-up run outside a
    # pool; inside one, the pool's shutdown would wait with it).
    atexit.register(stack.close)
    _worker.update(stack=stack, target=target, records=records, states=states)
    # For the process's life, unlike verify()'s freeze (see .heap): the
    # final collection at exit would go over every module and the app too,
    # and the pool's shutdown waits for it (0.15 s of a parallel run's tail).
    gc.freeze()
    # For the process's life too: the level is fixed by the first verifier.
    if not logging.getLogger("pact.ffi").level:
        logging.getLogger("pact.ffi").setLevel(VERIFIER_EVENTS_LEVEL)


def _execute(run: VerifierRun, plan: VerificationPlan) -> RunOutcome:
    from .execution import end_run, execute_run

    records: list[StateChangeRecord] = _worker["records"]
    target: Target = _worker["target"]

    def fresh() -> list[StateChangeRecord]:
        records.clear()
        return records

    _worker["states"].expect(run.schedule)
    outcome = execute_run(run, plan, target, on_start=fresh)
    # Undo the last interaction's states, as this process does between runs.
    outcome = end_run(_worker["states"], outcome)
    return replace(outcome, records=list(records))
