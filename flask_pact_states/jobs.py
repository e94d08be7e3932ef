"""Verifier runs in parallel worker processes (``--jobs N``).

Two verifiers could run at once in one process, but state handlers patch
module globals, which threads share: parallel runs need one app per
process. Each worker is started with the ``spawn`` method (forking a
process whose FFI has been used can hang the child), builds its own app
from the same factory, serves it on its own port, and executes whole
:class:`~.plan.VerifierRun` values (chunks or pacts) as the parent hands
them out. The parent merges the outcomes in plan order, so the result is
the one a single process would build.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .errors import PactStatesError, VerificationSetupError, WorkerDiedError
from .journal import StateChangeRecord
from .results import RunOutcome

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event

    from flask import Flask

    from .plan import VerificationPlan, VerifierRun
    from .verify import Progress, Target

#: How a worker gets its app: a Flask ``--app`` import string (e.g.
#: ``"myapp.tests:create_test_app"``) or a picklable callable returning it.
AppFactory = str | Callable[[], "Flask"]


#: The worker process's served app: target, and the list records go to.
_worker: dict[str, Any] = {}


def resolve_jobs(jobs: int | str) -> int:
    """The number of worker processes: ``"auto"`` is the number of cores.

    :raises VerificationSetupError: for anything but ``"auto"`` or N >= 1.
    """
    if jobs == "auto":
        return os.cpu_count() or 1
    if isinstance(jobs, int) and jobs >= 1:
        return jobs
    msg = f"jobs must be a positive number or 'auto', got {jobs!r}."
    raise VerificationSetupError(msg)


def load_app(factory: AppFactory) -> Flask:
    """Build the app from ``factory``, the way ``flask --app`` would."""
    if callable(factory):
        return factory()
    from flask.cli import ScriptInfo

    return ScriptInfo(app_import_path=factory).load_app()


def execute_parallel(
    plan: VerificationPlan,
    factory: AppFactory,
    jobs: int,
    direct_state_calls: bool,
    progress: Progress | None = None,
) -> list[RunOutcome]:
    """Execute the plan's runs in ``jobs`` spawned processes, in plan order.

    :param direct_state_calls: as for :func:`~.verify.verify`.

    :raises VerificationSetupError: when a worker cannot build or serve the app.
    :raises WorkerDiedError: when a worker process ends during the run.
    """
    # Workers need no pact documents: they only configure the verifier.
    slim = replace(plan, pacts=())
    context = multiprocessing.get_context("spawn")
    # Set by workers: tells a worker that never built the app (a usage error)
    # from one that died during the run; BrokenProcessPool says neither.
    started, failed = context.Event(), context.Event()
    pool = ProcessPoolExecutor(
        jobs,
        mp_context=context,
        initializer=_start_worker,
        initargs=(factory, direct_state_calls, started, failed),
    )
    try:
        futures = {
            pool.submit(_execute, run, slim): i for i, run in enumerate(plan.runs)
        }
        outcomes = _collect(futures, plan.expected, progress)
    except BrokenProcessPool:
        _stop(pool)
        error = _broken(factory, started=started.is_set(), failed=failed.is_set())
        raise error from None
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown()
    return [outcomes[i] for i in range(len(plan.runs))]


def _broken(factory: AppFactory, *, started: bool, failed: bool) -> PactStatesError:
    """The error for a broken pool: the app did not start, or a worker died."""
    if failed or not started:
        msg = (
            f"A verification worker could not start the app from {factory!r};"
            " run with --jobs 1 to see the error."
        )
        return VerificationSetupError(msg)
    msg = (
        "A verification worker process died during the run (a state handler"
        " or view may have called os._exit, or crashed in native code), so the"
        " verification did not finish. Run with --jobs 1 to see which"
        " interaction ends the process."
    )
    return WorkerDiedError(msg)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now: a verifier mid-run would go on for its whole run."""
    # The executor has no public way to end running tasks.
    processes = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join()


def _collect(
    futures: dict[Future[RunOutcome], int],
    expected: int | None,
    progress: Progress | None,
) -> dict[int, RunOutcome]:
    outcomes: dict[int, RunOutcome] = {}
    done = 0
    for future in as_completed(futures):
        outcome = future.result()
        outcomes[futures[future]] = outcome
        done += outcome.run.expected or 0
        if progress is not None:
            progress(done, expected)
    return outcomes


def _start_worker(
    factory: AppFactory, direct_state_calls: bool, started: Event, failed: Event
) -> None:
    """Build and serve this worker's app until the process ends."""
    try:
        _serve_worker_app(factory, direct_state_calls)
    except BaseException:
        failed.set()
        raise
    started.set()


def _serve_worker_app(factory: AppFactory, direct_state_calls: bool) -> None:
    from .serving import serve
    from .verify import Target, _app_states, served_app

    app = load_app(factory)
    states = _app_states(app)
    # The process ends with the pool; its patches, server and verifier
    # report (printed to stdout, which ours replaces) go with it.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    stack = ExitStack()
    wsgi_app = served_app(app, direct_state_calls=direct_state_calls)
    base_url = stack.enter_context(serve(wsgi_app))
    records: list[StateChangeRecord] = []
    stack.enter_context(states.journal.listen(records.append))
    target = Target(base_url, states.settings.url, states.settings.token)
    _worker.update(stack=stack, target=target, records=records, states=states)


def _execute(run: VerifierRun, plan: VerificationPlan) -> RunOutcome:
    from .verify import execute_run

    records: list[StateChangeRecord] = _worker["records"]
    target: Target = _worker["target"]

    def fresh() -> list[StateChangeRecord]:
        records.clear()
        return records

    _worker["states"].expect(run.schedule)
    outcome = execute_run(run, plan, target, on_start=fresh)
    # Undo the last interaction's states, as one process does between runs.
    _worker["states"].reset()
    return replace(outcome, records=list(records))
