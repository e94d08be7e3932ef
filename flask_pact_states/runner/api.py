"""Verify a Flask app against pacts and say exactly what failed.

:func:`verify` serves the app with waitress on 127.0.0.1 (port 0) in a thread
(see :mod:`.serving`), drives :class:`pact.Verifier` against it and listens to
the endpoint's journal, so that a failing state handler's exception and
traceback reach the report although the verifier never shows them.

The work is split in three: :func:`~.plan.build_plan` turns the sources into
:class:`~.plan.VerifierRun` values, :func:`~.execution.execute_run` executes
one of them against the served app, and :func:`verify` hands the runs out to
this process and any ``--jobs`` workers (:mod:`.jobs`) and merges the
outcomes into one result.

``PACT_DO_NOT_TRACK`` is set to ``true`` unless already set: otherwise the
verifier tries to send usage events over the network.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ..config import DIRECT_STATE_CALLS, MINIMAL_TRUST_STORE
from ..errors import VerificationSetupError
from ..provider.journal import StateChangeRecord
from . import truststore
from .broker import BrokerOptions, PublishOptions
from .execution import Target, app_states, execute_run, served_app
from .heap import existing_objects_frozen
from .parallel import AppFactory, RunQueue, WorkerPool, resolve_jobs
from .plan import DEFAULT_CHUNK_SIZE, VerificationPlan, VerifierRun, build_plan
from .results import RunOutcome, VerificationResult, build_result
from .server import run_in_worker, serve
from .silencer import StdoutSilencer

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from flask import Flask

    from ..provider.state import AppStates

__all__ = [
    "BrokerOptions",
    "PublishOptions",
    "VerificationPlan",
    "VerificationResult",
    "VerifierRun",
    "build_plan",
    "execute_run",
    "run_in_worker",
    "serve",
    "served_app",
    "verify",
]

#: Called with (interactions started, interactions expected or None).
Progress = Callable[[int, int | None], None]
#: How long a reset after Ctrl-C or a failed run waits for a handler that
#: is still running.
_ABORT_RESET_WAIT: Final = 1.0


def verify(
    app: Flask,
    *sources: str | Path,
    provider: str | None = None,
    consumers: Sequence[str] = (),
    description: str | None = None,
    state: str | None = None,
    broker: BrokerOptions | None = None,
    publish: PublishOptions | None = None,
    request_timeout: float = 5.0,
    progress: Progress | None = None,
    minimal_trust_store: bool | None = None,
    direct_state_calls: bool | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    jobs: int | str = 1,
    app_factory: AppFactory | None = None,
) -> VerificationResult:
    """Verify ``app`` against pacts and return what passed and what failed::

        def test_provider_honours_its_pacts():
            result = verify(create_test_app(), "pacts/")
            assert result.passed, result.report()

    Local pact files and directories are verified per consumer, with
    ``?consumer=<name>`` on the state URL; URL and broker sources are scoped
    only when ``consumers`` names them. When the app sets
    ``PACT_STATES_TOKEN``, it is sent in ``X-Pact-States-Token``. The server
    is always shut down and every state undone before this returns (or
    raises, Ctrl-C included). While the verifier runs, file descriptor 1
    points at /dev/null (the verifier prints its own report there): log,
    rather than print, from handlers.

    :param app: an app with :class:`~flask_pact_states.PactStates` set up.
    :param sources: pact files, directories of them, and ``http(s)://`` URLs.
    :param provider: the provider name; defaults to ``PACT_STATES_PROVIDER``,
        then to the provider the local pacts agree on.
    :param consumers: verify only these consumers' pacts.
    :param description: verify only interactions whose description matches
        this regular expression.
    :param state: verify only interactions with a state matching this
        regular expression.
    :param broker: fetch pacts from a Pact Broker too.
    :param publish: publish results to the broker (only for broker pacts).
    :param request_timeout: seconds the verifier waits for each request.
    :param progress: called with (started, expected) as interactions start
        here and as worker processes finish runs, from a server thread or
        the worker pool's thread (never two at once).
    :param minimal_trust_store: when no source needs TLS, point the verifier
        at a one-certificate trust store, so that it does not load the
        system's for every interaction (see :mod:`.truststore`; it changes
        process-wide environment variables during the run). ``None`` reads
        ``PACT_STATES_MINIMAL_TRUST_STORE`` (default on).
    :param direct_state_calls: answer the verifier's state calls in an app
        context in front of the app (:class:`~.views.DirectStateCalls`),
        skipping the app's request handling: its ``before_request`` hooks and
        WSGI middleware never see them, and handlers cannot use
        :data:`~flask.request`. ``False`` sends them through the app, as an
        outside verifier would. ``None`` reads
        ``PACT_STATES_DIRECT_STATE_CALLS`` (default on).
    :param chunk_size: verify a local pact of more interactions than this as
        several verifier runs of at most this many, merged into one result
        (the verifier's time grows with the square of a run's size); ``0``
        turns it off. URL and broker sources are never chunked.
    :param jobs: execute the runs (chunks, consumers) in this many processes:
        this one, with ``app``, and ``jobs - 1`` spawned workers, each with
        its own app built by ``app_factory`` (which should build the same
        app); ``"auto"`` uses every core. With one run, or ``1``, all runs go
        in this process.
    :param app_factory: how a worker builds its app: a ``flask --app``
        import string (``"myapp.tests:create_test_app"``) or a picklable
        callable; needed when ``jobs`` is not 1.
    :returns: the result; ``result.passed`` and ``result.report()``.
    :raises VerificationSetupError: when the app has no PactStates, no
        provider name can be found, or an option is invalid.
    :raises PactSourceError: when a local source is missing or not a pact.

    .. versionadded:: 0.1
    """
    states = app_states(app)
    os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pact-verify-") as workdir:
        plan = build_plan(
            sources,
            provider=provider or states.settings.provider,
            consumers=consumers,
            description=description,
            state=state,
            broker=broker,
            publish=publish,
            request_timeout=request_timeout,
            chunk_size=chunk_size,
            workdir=Path(workdir),
        )
        if minimal_trust_store is None:
            minimal_trust_store = bool(app.config.get(MINIMAL_TRUST_STORE, True))
        if direct_state_calls is None:
            direct_state_calls = bool(app.config.get(DIRECT_STATE_CALLS, True))
        trust = minimal_trust_store and not plan.needs_tls
        processes = min(resolve_jobs(jobs), len(plan.runs))
        factory = _factory(app_factory, jobs) if processes > 1 else None
        wsgi_app = served_app(app, direct_state_calls=direct_state_calls)
        with truststore.minimal_trust_store(trust), existing_objects_frozen():
            outcomes = _execute_plan(
                wsgi_app,
                states,
                plan,
                progress,
                _Helpers(factory, processes - 1, direct_state_calls),
            )
    return build_result(plan, outcomes, states.registry)


def _factory(app_factory: AppFactory | None, jobs: int | str) -> AppFactory:
    if app_factory is None:
        msg = (
            f"jobs={jobs!r} needs app_factory: each worker process builds its"
            " own app, e.g. app_factory='myapp.tests:create_test_app'."
        )
        raise VerificationSetupError(msg)
    return app_factory


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
    progress: Progress | None,
    helpers: _Helpers,
) -> list[RunOutcome]:
    """Execute every run of the plan: here, and in worker processes if any.

    This process serves its app and takes runs from the queue in a thread,
    while the workers take theirs; the outcomes come back in plan order.
    """
    collector = _Collector(plan.expected, progress)
    queue = RunQueue(plan.runs)
    pool = helpers.start(collector.run_done)
    silencer = StdoutSilencer()
    aborted = False
    try:
        with serve(app) as base_url, states.journal.listen(collector.add):
            target = Target(base_url, states.settings.url, states.settings.token)

            def run_here() -> dict[int, RunOutcome]:
                outcomes = {}
                while (item := queue.take()) is not None:
                    index, run = item
                    states.expect(run.schedule)
                    outcomes[index] = execute_run(
                        run, plan, target, silencer, collector.start_run
                    )
                return outcomes

            if pool is not None:
                pool.take_from(queue, plan)
            try:
                outcomes = run_in_worker(run_here)
            finally:
                queue.close()  # no-op when every run was taken
                silencer.close()
            if pool is not None:
                outcomes |= pool.outcomes()
            return [outcomes[index] for index in range(len(plan.runs))]
    except BaseException:
        # Ctrl-C (here or while waiting for the workers), or a failed run.
        aborted = True
        if pool is not None:
            pool.stop()
        raise
    finally:
        # A handler may hang after Ctrl-C or a failure: undo its patches anyway.
        states.reset(wait=_ABORT_RESET_WAIT if aborted else None)


class _Collector:
    """Journal listener: records per run, and progress as interactions start."""

    def __init__(self, expected: int | None, progress: Progress | None) -> None:
        self._expected = expected
        self._progress = progress
        self._records: list[StateChangeRecord] = []
        self._last: int | None = None
        self._started = 0
        # Server threads here and a pool thread for the workers both count.
        self._lock = threading.Lock()

    def start_run(self) -> list[StateChangeRecord]:
        self._records = []
        return self._records

    def run_done(self, run: VerifierRun) -> None:
        """A worker process finished ``run``: count its interactions."""
        self._count(run.expected or 0)

    def add(self, record: StateChangeRecord) -> None:
        self._records.append(record)
        if record.action != "setup" or record.interaction == self._last:
            return
        if record.interaction:
            self._last = record.interaction
        self._count(1)

    def _count(self, interactions: int) -> None:
        # Under the lock, so that progress never goes backwards.
        with self._lock:
            self._started += interactions
            if self._progress is not None:
                self._progress(self._started, self._expected)
