"""The worker pool's failure paths, without spawning a process.

Runs that really go to worker processes are in ``test_speed.py``; here the
executor's ``submit`` is replaced to break the pool at chosen moments.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest

from flask_pact_states.errors import VerificationSetupError
from flask_pact_states.runner.options import VerifyOptions
from flask_pact_states.runner.parallel import RunQueue, WorkerPool
from flask_pact_states.runner.plan import VerificationPlan, VerifierRun
from flask_pact_states.runner.results import RunOutcome

RUNS = tuple(VerifierRun(f"chunk {n}", expected=1) for n in range(3))
PLAN = VerificationPlan(
    provider="Provider", runs=RUNS, options=VerifyOptions(sources=("p.json",))
)


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool("nowhere:create_app", size=1, direct_state_calls=True)
    yield pool
    pool.stop()


def test_a_run_no_worker_got_fails_the_verification(
    pool: WorkerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool broke between taking a run and submitting it: that run must
    not go missing from the results (a KeyError when merging them)."""

    def broken(*args: Any, **kwargs: Any) -> Future[RunOutcome]:
        raise BrokenProcessPool("a worker died")

    monkeypatch.setattr(pool._pool, "submit", broken)
    queue = RunQueue(RUNS)
    pool.take_from(queue, PLAN)

    with pytest.raises(VerificationSetupError, match="could not start the app"):
        pool.outcomes()
    assert queue.take() is None  # nobody takes the other runs


def test_a_cancelled_run_closes_the_queue_quietly(
    pool: WorkerPool, caplog: pytest.LogCaptureFixture
) -> None:
    """stop() cancels runs not yet started; their callbacks must not raise."""
    queue = RunQueue(RUNS)
    pool._queue = queue
    future: Future[RunOutcome] = Future()
    future.add_done_callback(lambda done: pool._finished(done, RUNS[0]))

    with caplog.at_level(logging.ERROR):
        assert future.cancel()

    assert "exception calling callback" not in caplog.text
    assert queue.take() is None


def test_a_failed_run_closes_the_queue_before_the_feeder_takes_more(
    pool: WorkerPool,
) -> None:
    queue = RunQueue(RUNS)
    pool._queue = queue
    assert pool._slots.acquire(blocking=False)  # the failed run's slot
    taken: list[object] = []
    original_release = pool._slots.release

    def release(n: int = 1) -> None:
        taken.append(queue.take())  # what a waiting feeder would get now
        original_release(n)

    pool._slots.release = release  # type: ignore[method-assign]
    future: Future[RunOutcome] = Future()
    future.set_exception(RuntimeError("the run failed"))

    pool._finished(future, RUNS[0])

    assert taken == [None]
