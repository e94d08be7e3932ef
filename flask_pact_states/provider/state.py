"""Per-app state of the extension and the one place a state change is applied.

An :class:`AppStates` lives in ``app.extensions["pact_states"]``. It turns each
:class:`~flask_pact_states.wire.StateChange` into an :class:`Answer`, records
it in the journal and never lets an error escape as a 5xx: the verifier retries
5xx answers for two minutes, running the failing handler eight times.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from flask import Flask, current_app

from ..config import Settings
from ..errors import NotSetUpError
from .journal import Journal, Outcome, StateChangeRecord, logger
from .lifecycle import Lifecycle, Resource
from .registry import StateRegistry
from .serial import SerialLock
from .stubs import handler_stub
from .wire import StateChange

#: Where an app keeps its :class:`AppStates`: ``app.extensions[EXTENSION_KEY]``.
EXTENSION_KEY = "pact_states"
#: At most this many known names go into an unknown-state answer.
_KNOWN_NAMES_SHOWN = 50


@dataclass(frozen=True, slots=True)
class Answer:
    """What the endpoint answers: a status and a JSON object."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Hooks:
    """The ``before_each`` and ``after_each`` hooks of one extension, and the
    resources each interaction holds (database isolations)."""

    before_each: list[Callable[[], Any]] = field(default_factory=list)
    after_each: list[Callable[[], Any]] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)


def get_app_states(app: Flask | None = None) -> AppStates:
    """The per-app state of the extension.

    :param app: defaults to :data:`flask.current_app`.
    :raises NotSetUpError: when PactStates is not set up on the app.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
    except KeyError:
        msg = (
            f"PactStates is not set up on app {app.name!r}: call"
            " PactStates(app) or states.init_app(app) in a test-only app factory."
        )
        raise NotSetUpError(msg) from None


class AppStates:
    """Everything the extension keeps for one app.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        registry: StateRegistry,
        hooks: Hooks,
        settings: Settings,
        producers: StateRegistry | None = None,
    ) -> None:
        #: The handlers, shared by every app of one :class:`PactStates`.
        self.registry = registry
        #: The message producers, by description (same rules as states).
        self.producers = StateRegistry("message") if producers is None else producers
        self.settings = settings
        self.journal = Journal(settings.journal_size)
        # The hook lists are the extension's own: hooks added later apply too.
        self.lifecycle = Lifecycle(
            lambda: hooks.before_each, lambda: hooks.after_each, lambda: hooks.resources
        )
        self._lock = SerialLock()
        # The change being applied, its thread and start: says where a hung
        # handler is when a wait for the lock gives up.
        self._running: tuple[StateChange, int, float] | None = None

    def apply(self, changes: list[StateChange]) -> Answer:
        """Apply ``changes`` in order, one state change at a time per app.

        :returns: 200 with the merged provider-state values, or the first
            failure's 4xx answer.
        """
        if not self._lock.acquire(self.settings.lock_timeout):
            return self.reject(
                409,
                "busy",
                "Another state change is still running (a handler may hang); this"
                f" one waited {self.settings.lock_timeout} s and gave up.",
                changes[0],
            )
        try:
            values: dict[str, Any] = {}
            for change in changes:
                self._running = (change, threading.get_ident(), time.monotonic())
                answer = self._apply_one(change)
                if answer.status >= 400:
                    return answer
                values.update(answer.body)
            return Answer(200, values)
        finally:
            self._running = None
            self._lock.release()

    @contextmanager
    def exclusive(self) -> Iterator[bool]:
        """Hold the lock state changes take (waiting at most
        ``PACT_STATES_LOCK_TIMEOUT``); yields whether it was acquired."""
        acquired = self._lock.acquire(timeout=self.settings.lock_timeout)
        try:
            yield acquired
        finally:
            if acquired:
                self._lock.release()

    def expect(self, schedule: Iterable[Sequence[str]] | None) -> None:
        """Tell the lifecycle the states of each interaction the next verifier
        run will verify, in order (see :meth:`.Lifecycle.expect`).

        When a state change of the previous run still runs after
        ``PACT_STATES_LOCK_TIMEOUT`` (a handler that hangs), it is set by that
        handler's thread when it returns, before any setup of the new run.
        """
        self._under_lock(
            self.settings.lock_timeout, lambda: self.lifecycle.expect(schedule)
        )

    def reset(self, *, wait: float | None = None) -> str | None:
        """Undo everything the current interaction set up, and forget the
        schedule of the run (see :meth:`expect`): the run is over.

        :param wait: seconds to wait for a state change still running. After
            that (a handler that hangs), what the interaction set up so far
            is undone at once, and the handler's thread ends the interaction
            when it returns, undoing what it set up meanwhile.
        :returns: when the wait gave up, which handler hangs and where
            (:func:`describe_running`); else ``None``.
        """
        if self._under_lock(-1 if wait is None else wait, self._end_run, urgent=True):
            return None
        return describe_running(self, self._running)

    def close(self) -> None:
        """Undo everything and release resources: the app is going away.

        Waits at most ``PACT_STATES_LOCK_TIMEOUT`` for a running state change
        (a hung handler must not block interpreter exit: this runs at exit),
        then undoes as :meth:`reset` does.
        """
        self._under_lock(self.settings.lock_timeout, self.lifecycle.close, urgent=True)

    def _end_run(self) -> None:
        try:
            self.lifecycle.reset()
        finally:
            self.lifecycle.expect(None)

    def _under_lock(
        self, timeout: float, work: Callable[[], None], *, urgent: bool = False
    ) -> bool:
        """Run ``work`` under the lock, or leave it to the lock's holder.

        :param urgent: when the lock is not free in time, undo what the current
            interaction set up so far at once, not only when the holder returns.
        :returns: whether ``work`` ran here.
        """
        if self._lock.acquire(timeout):
            try:
                work()
            finally:
                self._lock.release()
            return True
        if urgent:
            self.lifecycle.undo_so_far()
        self._lock.defer(work)
        return False

    def reject(
        self, status: int, error: str, message: str, change: StateChange | None = None
    ) -> Answer:
        """Answer a request refused before any handler ran, and record it."""
        change = change or StateChange("")
        self._record(change, "rejected", status, 0.0, error_message=message)
        return Answer(status, {"error": error, "message": message})

    def _apply_one(self, change: StateChange) -> Answer:
        started = time.perf_counter()
        if change.action == "teardown":
            return self._teardown(change, started)
        if self.lifecycle.skips(change.state):
            message = (
                "Skipped: an earlier state of this interaction failed, so the"
                " verifier skips the interaction."
            )
            self._record(change, "skipped", 200, started, error_message=message)
            return Answer(200, {})
        match = self.registry.resolve(change.state, change.consumer)
        try:
            if match is None and change.state:
                # Inside the try: starting its interaction runs the previous
                # interaction's undo and the before_each hooks, which may raise.
                return self._missing(change, started)
            values = self.lifecycle.setup(
                change.state, change.params, change.consumer, match
            )
        except BaseException as error:
            _reraise_if_fatal(error)
            handler = match.handler.qualname if match else None
            return self._failed(change, error, started, handler)
        handler = match.handler.qualname if match else None
        ignored = match.handler.ignored(change.params) if match else ()
        self._record(
            change,
            "ok",
            200,
            started,
            handler=handler,
            result=values,
            ignored_params=ignored,
        )
        return Answer(200, values)

    def _teardown(self, change: StateChange, started: float) -> Answer:
        try:
            self.lifecycle.teardown(change.state, change.params)
        except BaseException as error:
            _reraise_if_fatal(error)
            return self._failed(change, error, started, None)
        self._record(change, "ok", 200, started)
        return Answer(200, {})

    def _missing(self, change: StateChange, started: float) -> Answer:
        by = f" from consumer {change.consumer!r}" if change.consumer else ""
        message = f"No handler is registered for state {change.state!r}{by}."
        warn = self.settings.missing == "warn"
        try:  # a before_each hook may raise here too: a 4xx, never a 500
            if warn:
                self.lifecycle.setup(change.state, change.params, change.consumer, None)
            else:
                self.lifecycle.fail_setup(change.state)
        except BaseException as error:
            _reraise_if_fatal(error)
            return self._failed(change, error, started, None)
        if warn:
            logger.warning("%s Answering 200 as PACT_STATES_MISSING='warn'.", message)
            self._record(change, "ignored", 200, started, error_message=message)
            return Answer(200, {})
        self._record(change, "missing", 404, started, error_message=message)
        known = self.registry.known_names(change.consumer)
        stub = handler_stub(change.state, change.params, change.consumer)
        return Answer(
            404,
            {
                "error": "unknown_state",
                "message": message + " Add a handler:\n\n" + stub,
                "state": change.state,
                "consumer": change.consumer,
                "close_matches": self.registry.close_matches(
                    change.state, change.consumer
                ),
                "known_states": known[:_KNOWN_NAMES_SHOWN],
                "known_states_count": len(known),
                "stub": stub,
            },
        )

    def _failed(
        self,
        change: StateChange,
        error: BaseException,
        started: float,
        handler: str | None,
    ) -> Answer:
        kind = type(error).__qualname__
        trace = "".join(traceback.format_exception(error))
        message = f"{change.action} of state {change.state!r} failed: {kind}: {error}"
        self._record(
            change,
            "error",
            422,
            started,
            handler=handler,
            error_type=kind,
            error_message=str(error),
            traceback=trace,
        )
        # 422, never 5xx: the verifier would retry a 5xx eight times.
        return Answer(
            422,
            {
                "error": "state_change_failed",
                "message": message,
                "state": change.state,
                "action": change.action,
                "handler": handler,
                "exception": {"type": kind, "message": str(error), "traceback": trace},
            },
        )

    def _record(
        self,
        change: StateChange,
        outcome: Outcome,
        status: int,
        started: float,
        **details: Any,
    ) -> None:
        rejected = outcome == "rejected"
        self.journal.add(
            StateChangeRecord(
                interaction=0 if rejected else self.lifecycle.interactions_started,
                action=change.action,
                state=change.state,
                consumer=change.consumer,
                params=change.params,
                outcome=outcome,
                status=status,
                duration=time.perf_counter() - started if started else 0.0,
                **details,
            )
        )


def _reraise_if_fatal(error: BaseException) -> None:
    """Let Ctrl-C and exits through; answer everything else (``pytest.fail()``,
    ``pytest.skip()``... raise BaseException subclasses too) with a 422."""
    if isinstance(error, KeyboardInterrupt | SystemExit | GeneratorExit):
        raise error


def describe_running(
    states: AppStates, running: tuple[StateChange, int, float] | None
) -> str:
    """Which state change hangs, in which handler, and where it is now."""
    if running is None:
        return "A state change held the lock past the wait; it has since ended."
    change, thread, since = running
    match = states.registry.resolve(change.state, change.consumer)
    handler = f" in {match.handler.qualname}()" if match else ""
    stack = _handler_stack(sys._current_frames().get(thread))
    tasks = _task_stacks(states.lifecycle.async_loop)
    return (
        f"The {change.action} of state {change.state!r}{handler} was still running"
        f" after {time.monotonic() - since:.1f} s: a handler that hangs holds up"
        " every state change after it. Its patches were undone anyway. It was"
        f" at:\n{stack.rstrip()}" + (f"\nIts async tasks:\n{tasks}" if tasks else "")
    )


def _handler_stack(frame: FrameType | None) -> str:
    """The thread's stack from the handler down: the server's and this
    package's frames above it say nothing about the hang."""
    if frame is None:
        return "  (it has ended since)\n"
    summary = traceback.extract_stack(frame)
    package = os.path.dirname(os.path.dirname(__file__)) + os.sep
    ours = [i for i, f in enumerate(summary) if f.filename.startswith(package)]
    start = ours[-1] + 1 if ours and ours[-1] + 1 < len(summary) else 0
    return "".join(traceback.StackSummary.from_list(summary[start:]).format())


def _task_stacks(loop: asyncio.AbstractEventLoop | None) -> str:
    """Where the async handlers' tasks are (a hung one shows here: its
    thread's stack shows only the event loop)."""
    if loop is None:
        return ""
    try:
        tasks = list(asyncio.all_tasks(loop))
    except RuntimeError:  # changing under us: nothing to show
        return ""
    stacks = []
    for task in tasks:
        frames = [(f, f.f_lineno) for f in task.get_stack()]
        stacks.append("".join(traceback.StackSummary.extract(frames).format()))
    return "".join(stacks).rstrip()
