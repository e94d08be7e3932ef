"""Verify a Flask app against pacts and say exactly what failed.

:func:`verify` serves the app with waitress on 127.0.0.1 (port 0) in a thread
(see :mod:`.server`), drives :class:`pact.Verifier` against it and listens to
the endpoint's journal, so that a failing state handler's exception and
traceback reach the report although the verifier never shows them.

The work is split in three: :func:`~.plan.build_plan` turns the sources into
:class:`~.plan.VerifierRun` values, :func:`~.execution.execute_run` executes
one of them against the served app, and :func:`verify` hands the runs out to
this process and any ``--jobs`` workers (:mod:`.parallel`) and merges the
outcomes into one result.

Every process-wide change the run makes (``PACT_DO_NOT_TRACK``, the trust
store, the frozen heap, file descriptor 1) lives in :mod:`.process`, scoped to
the run.
"""

from __future__ import annotations

import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..errors import VerificationSetupError
from ..provider.journal import StateChangeRecord
from . import process
from .assembly import build_result
from .execution import Target, app_states, end_run, execute_run, served_app
from .options import AppFactory, Progress, VerifyOptions
from .parallel import RunQueue, WorkerPool
from .plan import VerificationPlan, VerifierRun, build_plan
from .results import RunOutcome, VerificationResult
from .server import run_in_worker
from .serving import serve_target
from .streams import StderrTail, StdoutSilencer

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from flask import Flask

    from ..provider.state import AppStates

#: How long a reset after Ctrl-C or a failed run waits for a handler that
#: is still running.
_ABORT_RESET_WAIT: Final = 1.0


def verify(
    app: Flask,
    *sources: str | Path,
    options: VerifyOptions | None = None,
    **choices: Any,
) -> VerificationResult:
    """Verify ``app`` against pacts and return what passed and what failed::

        def test_provider_honours_its_pacts():
            result = verify(create_test_app(), "pacts/")
            assert result.passed, result.report()

    The choices are the fields of :class:`~.options.VerifyOptions`, given
    as keywords (``verify(app, "pacts/", consumers=["web"], jobs=2)``) or as
    one ``options`` object; sources given here come after its own. Local
    pact files and directories are verified per consumer, with
    ``?consumer=<name>`` on the state URL; URL and broker sources are scoped
    only when ``consumers`` names them. When the app sets
    ``PACT_STATES_TOKEN``, it is sent in ``X-Pact-States-Token``. The server
    is always shut down and every state undone before this returns (or
    raises, Ctrl-C included). While the verifier runs, file descriptor 1
    points at /dev/null (the verifier prints its own report there): log,
    rather than print, from handlers; file descriptor 2 goes through a pipe
    that passes it on (the report quotes what the verifier panicked with);
    ``os._exit(0)`` exits with 1. Process-wide changes are listed in
    :mod:`.process`; each is undone when this returns. A second call for the
    same app while one runs is refused.

    :param app: an app with :class:`~flask_pact_states.PactStates` set up.
    :param sources: pact files, directories of them, and ``http(s)://`` URLs.
    :param options: the verification's choices, when built beforehand.
    :param choices: :class:`~.options.VerifyOptions` fields, instead of
        ``options``.
    :returns: the result; ``result.passed`` and ``result.report()``.
    :raises VerificationSetupError: when the app has no PactStates, no
        provider name can be found, or an option is invalid.
    :raises PactSourceError: when a local source is missing or not a pact.

    .. versionadded:: 0.1
    """
    states = app_states(app)
    options = _options(sources, options, choices).for_app(app.config)
    direct = bool(options.direct_state_calls)
    with (
        _only_run(app, states),
        tempfile.TemporaryDirectory(prefix="pact-verify-") as workdir,
    ):
        plan = build_plan(options, provider=options.provider, workdir=Path(workdir))
        helpers = _Helpers(
            options.app_factory, min(options.processes, len(plan.runs)) - 1, direct
        )
        trust = bool(options.minimal_trust_store) and not plan.needs_tls
        with process.verification_environment(trust_store_minimal=trust):
            outcomes = _execute_plan(
                served_app(app, direct_state_calls=direct), states, plan, helpers
            )
    return build_result(plan, outcomes, states.registry, states.producers)


#: The apps a verify() call is running on now.
_running: weakref.WeakSet[AppStates] = weakref.WeakSet()
_running_lock = threading.Lock()


@contextmanager
def _only_run(app: Flask, states: AppStates) -> Iterator[None]:
    """Refuse a second verify() on one app while the first runs: both would
    send state changes to the same lifecycle, and fail each other's runs.

    :raises VerificationSetupError: when one is running already.
    """
    with _running_lock:
        if states in _running:
            msg = (
                f"verify() is already running on the app {app.name!r} (in another"
                " thread): two runs on one app undo each other's states. Wait"
                " for it, or build a second app from the factory."
            )
            raise VerificationSetupError(msg)
        _running.add(states)
    try:
        yield
    finally:
        with _running_lock:
            _running.discard(states)


def _options(
    sources: tuple[str | Path, ...],
    options: VerifyOptions | None,
    choices: dict[str, Any],
) -> VerifyOptions:
    """One options object from ``verify()``'s arguments."""
    if options is None:
        unknown = sorted(set(choices) - set(VerifyOptions.defaults()))
        if unknown or "sources" in choices:
            msg = (
                f"verify() got unknown option(s) {', '.join(unknown or ['sources'])};"
                " the options are VerifyOptions' fields, sources are positional."
            )
            raise VerificationSetupError(msg)
        return VerifyOptions(sources=sources, **choices)
    if choices:
        msg = f"verify() takes options= or keywords, not both: got {sorted(choices)}."
        raise VerificationSetupError(msg)
    return replace(options, sources=(*options.sources, *sources))


@dataclass(frozen=True)
class _Helpers:
    """The worker processes to start beside this one (``count`` may be 0)."""

    factory: AppFactory | None
    count: int
    direct_state_calls: bool

    def start(self, on_done: Callable[[VerifierRun], None]) -> WorkerPool | None:
        if self.count < 1 or self.factory is None:
            return None
        return WorkerPool(self.factory, self.count, self.direct_state_calls, on_done)


def _execute_plan(
    app: WSGIApplication,
    states: AppStates,
    plan: VerificationPlan,
    helpers: _Helpers,
) -> list[RunOutcome]:
    """Execute every run of the plan: here, and in worker processes if any.

    This process serves its app and takes runs from the queue in a thread,
    while the workers take theirs; the outcomes come back in plan order.
    """
    collector = _Collector(plan.expected, plan.options.progress)
    queue = RunQueue(plan.runs)
    pool = helpers.start(collector.run_done)
    silencer = StdoutSilencer()
    aborted = False
    try:
        with (
            serve_target(
                app, states.settings, door=helpers.direct_state_calls
            ) as target,
            states.journal.listen(collector.add),
        ):
            if pool is not None:
                pool.take_from(queue, plan)
            try:
                outcomes = run_in_worker(
                    lambda: _run_here(queue, states, plan, target, silencer, collector)
                )
            finally:
                queue.close()  # no-op when every run was taken
                silencer.close()
            if pool is not None:
                outcomes |= pool.outcomes()
            return [outcomes[index] for index in range(len(plan.runs))]
    except BaseException:
        # Ctrl-C (here or while waiting for the workers), or a failed run.
        aborted = True
        StderrTail.release()  # the verifier may go on: stderr is ours again
        if pool is not None:
            pool.stop()
        raise
    finally:
        # A handler may hang: undo its patches anyway.
        lock_timeout = states.settings.lock_timeout
        states.reset(wait=_ABORT_RESET_WAIT if aborted else lock_timeout)


def _run_here(
    queue: RunQueue,
    states: AppStates,
    plan: VerificationPlan,
    target: Target,
    silencer: StdoutSilencer,
    collector: _Collector,
) -> dict[int, RunOutcome]:
    """Take runs from ``queue`` and execute them in this process."""
    outcomes = {}
    while (item := queue.take()) is not None:
        index, run = item
        states.expect(run.schedule)
        outcome = execute_run(run, plan, target, silencer, collector.start_run)
        collector.run_done(run, here=True)
        outcomes[index] = end_run(states, outcome)
    return outcomes


class _Collector:
    """Journal listener: records per run, and progress as interactions start."""

    def __init__(self, expected: int | None, progress: Progress | None) -> None:
        self._expected = expected
        self._progress = progress
        self._records: list[StateChangeRecord] = []
        self._last: int | None = None
        self._started = 0
        # Interactions counted in the current run of this process.
        self._counted = 0
        # Server threads here and a pool thread for the workers both count.
        self._lock = threading.Lock()

    def start_run(self) -> list[StateChangeRecord]:
        self._records = []
        self._counted = 0
        return self._records

    def run_done(self, run: VerifierRun, *, here: bool = False) -> None:
        """``run`` finished (here, or in a worker): count what it did not yet."""
        left = (run.expected or 0) - (self._counted if here else 0)
        if left > 0:
            self._count(left)

    def add(self, record: StateChangeRecord) -> None:
        self._records.append(record)
        # A refused call (number 0) is part of an interaction the verifier
        # tried, never one of its own: run_done() counts those.
        if (
            record.action != "setup"
            or not record.interaction
            or record.interaction == self._last
        ):
            return
        self._last = record.interaction
        self._counted += 1
        self._count(1)

    def _count(self, interactions: int) -> None:
        # Under the lock, so that progress never goes backwards.
        with self._lock:
            self._started += interactions
            if self._progress is not None:
                self._progress(self._started, self._expected)
