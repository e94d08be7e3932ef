"""SerialLock: work left by callers who gave up waiting runs under the lock,
before anyone else's."""

from __future__ import annotations

import logging
import threading

import pytest

from flask_pact_states.provider.serial import SerialLock


def test_serial_lock_runs_deferred_work_at_once_when_free() -> None:
    lock, done = SerialLock(), []

    lock.defer(lambda: done.append("work"))

    assert done == ["work"]
    assert lock.acquire(0)  # and the lock is free again
    lock.release()


def test_serial_lock_holder_runs_deferred_work_before_the_next_holder() -> None:
    lock, order = SerialLock(), []
    assert lock.acquire(0)
    lock.defer(lambda: order.append("deferred"))
    assert order == []  # the holder still runs: nothing changes under it

    def next_holder() -> None:
        assert lock.acquire(5)
        order.append("next")
        lock.release()

    waiter = threading.Thread(target=next_holder)
    waiter.start()
    lock.release()
    waiter.join(5)

    assert order == ["deferred", "next"]


def test_serial_lock_gives_up_after_the_timeout() -> None:
    lock = SerialLock()
    assert lock.acquire(0)
    try:
        assert not lock.acquire(0.01)
    finally:
        lock.release()


def test_serial_lock_logs_a_failing_deferred_work_and_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lock, done = SerialLock(), []
    assert lock.acquire(0)

    def broken() -> None:
        raise ValueError("undo broke")

    lock.defer(broken)
    lock.defer(lambda: done.append("after"))
    with caplog.at_level(logging.ERROR, logger="flask_pact_states"):
        lock.release()

    assert done == ["after"]
    assert "undo broke" in caplog.text
