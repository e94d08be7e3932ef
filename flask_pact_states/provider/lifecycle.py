"""Interactions and undo: everything a state sets up is undone on time.

The verifier sends no interaction id, so the boundary is inferred: a setup call
starts a new interaction when there is none, or when the current one has
already seen a request to the app itself or a teardown call. Everything an
interaction set up sits on one :class:`contextlib.ExitStack`, closed (in
reverse order of set-up) at the teardown of the interaction's last-set-up
state, when the next interaction begins, at once when a setup fails, and on
:meth:`Lifecycle.reset`.

The Rust verifier tears states down in set-up order, not reversed: undoing
each state at its own teardown call would leave a global that two states
patched set to the first state's mock. So a teardown call only marks its
state, and the last-set-up state's teardown undoes them all, newest first.

After a failed setup the verifier still sends the interaction's other setups,
then skips its request and teardowns. Nothing in those calls tells them from
the next interaction's, unless the runner says which states each interaction
of its run has (:meth:`Lifecycle.expect`): then they are known, and skipped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import (
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import AbstractContextManager, ExitStack, suppress
from dataclasses import dataclass, field
from typing import Any

from .binding import bind_arguments
from .handlers import HandlerCalls, check_result
from .registry import StateMatch
from .scopes import run_in_scope

#: Held by each interaction from its beginning to its end (see :class:`Lifecycle`).
Resource = Callable[[], AbstractContextManager[Any]]


@dataclass
class _ActiveState:
    state: str
    params: Mapping[str, Any]
    stack: ExitStack = field(default_factory=ExitStack)

    def close(self) -> None:
        """Undo what the state set up; an error says which state it came from."""
        try:
            self.stack.close()
        except BaseException as error:
            # The error may surface in another state's teardown answer.
            error.add_note(f"Raised while undoing provider state {self.state!r}.")
            raise


@dataclass
class Interaction:
    """One interaction's states and undo stack, numbered from 1 per app."""

    number: int
    stack: ExitStack = field(default_factory=ExitStack)
    active: list[_ActiveState] = field(default_factory=list)
    # Set when the app itself served a request, or a teardown arrived: the next
    # setup then belongs to a new interaction.
    finished_setup: bool = False
    #: The states the verifier will set up for it, in order, when known.
    planned: tuple[str, ...] | None = None
    #: Setup calls it has had so far.
    setups: int = 0
    #: Set as it ends: a patch from a thread it started is refused then.
    ended: bool = False
    #: The consumer its setups named, and the values its handlers returned:
    #: a message producer of the interaction gets both.
    consumer: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


class Lifecycle:
    """Runs state handlers inside interactions and undoes what they did.

    Not thread-safe by itself: the endpoint serialises calls with a lock.

    :param before_each: returns the hooks to run when an interaction begins.
    :param after_each: returns the hooks to run when it ends.
    :param resources: returns what each interaction holds from its beginning
        (before the ``before_each`` hooks) to its end, such as a database
        transaction: each is called when an interaction begins, in the app
        context of the call, and the context manager it returns is left when
        the interaction ends, after every state's undo and before the
        ``after_each`` hooks.
    """

    def __init__(
        self,
        before_each: Callable[[], list[Callable[[], Any]]],
        after_each: Callable[[], list[Callable[[], Any]]],
        resources: Callable[[], Sequence[Resource]] = tuple,
    ) -> None:
        self._before_each = before_each
        self._after_each = after_each
        self._resources = resources
        self._interaction: Interaction | None = None
        self._count = 0
        self._calls = HandlerCalls()
        # The states of each interaction still to come in the runner's run.
        self._schedule: deque[tuple[str, ...]] | None = None
        # Setups the verifier will still send for an interaction that failed.
        self._leftovers: deque[str] = deque()

    @property
    def interaction(self) -> Interaction | None:
        """The interaction in progress, if any."""
        return self._interaction

    @property
    def interactions_started(self) -> int:
        """How many interactions began since this app was set up."""
        return self._count

    def expect(self, schedule: Iterable[Sequence[str]] | None) -> None:
        """Follow a verifier run whose interactions are known in advance.

        :param schedule: the provider-state names of each interaction the run
            will verify, in the verifier's order (``[""]`` for one without
            states); ``None`` forgets the schedule. A setup call that does not
            fit it drops it, and the inferred boundaries alone apply again.
        """
        self._schedule = None if schedule is None else deque(map(tuple, schedule))
        self._leftovers.clear()
        if self._interaction is not None:
            # It belongs to the previous run: a setup of it failing late (a
            # handler that hung) must not expect leftovers in this one.
            self._interaction.planned = None

    def skips(self, state: str) -> bool:
        """Whether this setup call is one the verifier still sends for an
        interaction whose earlier setup failed. Nothing is set up for it: the
        verifier skips that interaction's request and teardowns.
        """
        if not self._leftovers:
            return False
        if self._leftovers[0] == state:
            self._leftovers.popleft()
            return True
        self._lose_schedule()
        return False

    def note_app_request(self) -> None:
        """Record that the app served a request: the provider request of the
        current interaction, after which its setup is over."""
        if self._interaction is not None:
            self._interaction.finished_setup = True

    def begin_setup(self, state: str = "") -> Interaction:
        """Return the interaction the setup of ``state`` belongs to, starting a
        new one (and ending the previous) at a boundary.

        :raises Exception: whatever a resource (a database isolation) or a
            ``before_each`` hook raises; the new interaction is then already
            undone.
        """
        current = self._interaction
        # "" (Ruby: null) is the one call of an interaction without states:
        # it always begins one, even when the previous one never got to its
        # request (a failed setup, then its other setups, then no request).
        if current is not None and not current.finished_setup and state:
            self._follow(current, state)
            return current
        self.reset()
        self._count += 1
        interaction = Interaction(self._count, planned=self._next_planned())
        self._interaction = interaction
        self._follow(interaction, state)
        # Hook lists are read once per interaction; empty ones cost nothing.
        after_each, before_each = self._after_each(), self._before_each()
        if after_each:
            # Pushed first so that after_each runs last, after every state's undo.
            interaction.stack.callback(self._calls.run_hooks, after_each)
        resources = self._resources()
        if resources or before_each:
            try:
                for resource in resources:
                    interaction.stack.enter_context(resource())
                if before_each:
                    run_in_scope(
                        interaction.stack,
                        interaction,
                        self._calls.run_hooks,
                        before_each,
                    )
            except BaseException:
                self._fail(interaction)
                raise
        return interaction

    def setup(
        self,
        state: str,
        params: Mapping[str, Any],
        consumer: str | None,
        match: StateMatch | None,
    ) -> dict[str, Any]:
        """Enter ``state`` by running the matched handler (``None``: nothing to run).

        :returns: the provider-state values the handler returned or yielded.
        :raises Exception: what binding or the handler raised, or
            :class:`~flask_pact_states.errors.HandlerReturnError`; the whole
            interaction is undone first, as the verifier skips its teardown.
        """
        interaction = self.begin_setup(state)
        interaction.consumer = consumer or interaction.consumer
        active = _ActiveState(state, params)
        interaction.stack.callback(active.close)
        interaction.active.append(active)
        if match is None:
            return {}
        try:
            arguments = bind_arguments(match, params, state=state, consumer=consumer)
            value = run_in_scope(
                active.stack, interaction, self._calls.enter, match.handler, arguments
            )
            values = check_result(match.handler, value)
            interaction.values.update(values)
            return values
        except BaseException:
            self._fail(interaction)
            raise

    def produce(self, run: Callable[[Interaction], Any]) -> Any:
        """Run a message producer in the current interaction, after its
        setups: ``run(interaction)`` calls it, and what it patches is undone
        with the interaction. Without an interaction in setup, one begins.

        :returns: what ``run`` returned, a coroutine's result awaited.
        """
        interaction = self._interaction
        if interaction is None or interaction.finished_setup:
            interaction = self.begin_setup()
        # As a provider request does, the message ends the interaction's setup.
        interaction.finished_setup = True
        scope = ExitStack()
        interaction.stack.push(scope)
        result = run_in_scope(scope, interaction, run, interaction)
        if asyncio.iscoroutine(result):
            result = run_in_scope(scope, interaction, self._calls.run_async, result)
        return result

    def fail_setup(self, state: str = "") -> None:
        """A setup of ``state`` failed before any handler ran: end its
        interaction at once."""
        self._fail(self.begin_setup(state))

    def teardown(self, state: str, params: Mapping[str, Any]) -> bool:
        """Leave ``state``; the teardown of the last-set-up state ends the
        interaction, undoing every state in reverse order of set-up.

        Ending there also undoes states whose teardown never comes: after a
        failed setup the verifier still sends the failed interaction's other
        setups (then skips its request and teardowns), and those setups join
        the next interaction.

        :returns: whether the state was active (a teardown for another is a no-op).
        :raises Exception: what undoing raised, after undoing all it could.
        """
        interaction = self._interaction
        if interaction is None:
            return False
        interaction.finished_setup = True
        active = _find_active(interaction.active, state, params)
        if active is None:
            return False
        last = active is interaction.active[-1]
        interaction.active.remove(active)
        if last:
            self.reset()
        return True

    def reset(self) -> None:
        """End the current interaction, undoing everything it set up.

        :raises Exception: what undoing raised, after undoing all it could.
        """
        interaction, self._interaction = self._interaction, None
        self._leftovers.clear()
        if interaction is not None:
            interaction.ended = True  # before the undo: see scopes.thread_scope
            _undo(interaction)

    def undo_so_far(self) -> None:
        """Undo what the current interaction set up until now, from a thread
        that gave up waiting for a handler that still runs in it; nothing else
        changes. The handler's thread ends the interaction when it returns
        (:class:`~.serial.SerialLock`), undoing what it set up meanwhile.
        """
        interaction = self._interaction
        if interaction is not None:
            with suppress(Exception):  # the deferred reset reports errors
                _undo(interaction)

    def _next_planned(self) -> tuple[str, ...] | None:
        if not self._schedule:
            self._schedule = None  # more interactions than planned: lost
            return None
        return self._schedule.popleft()

    def _follow(self, interaction: Interaction, state: str) -> None:
        """Count the setup of ``state``; drop a schedule it does not fit."""
        position, planned = interaction.setups, interaction.planned
        interaction.setups += 1
        if planned is not None and planned[position : position + 1] != (state,):
            self._lose_schedule()

    def _lose_schedule(self) -> None:
        self._schedule = None
        self._leftovers.clear()
        if self._interaction is not None:
            self._interaction.planned = None

    def _fail(self, interaction: Interaction) -> None:
        """A setup of ``interaction`` failed: undo it, and expect the setups
        the verifier still sends for its other states."""
        planned = interaction.planned
        self.reset()
        if planned is not None:
            self._leftovers.extend(planned[interaction.setups :])

    def close(self) -> None:
        """:meth:`reset`, then release the event loop used by async handlers."""
        try:
            self.reset()
        finally:
            self._calls.close()

    @property
    def async_loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop async handlers run on, once one has run."""
        return self._calls.loop


def _undo(interaction: Interaction) -> None:
    """Close the interaction's stacks: its own, then each state's again, as
    a state's stack may have grown after the interaction's closed it (a
    handler that went on after :meth:`Lifecycle.undo_so_far`)."""
    try:
        interaction.stack.close()
    finally:
        for active in reversed(interaction.active):
            active.close()


def _find_active(
    active: list[_ActiveState], state: str, params: Mapping[str, Any]
) -> _ActiveState | None:
    """The active entry for ``state``: same params preferred, same name else."""
    same_name = [entry for entry in active if entry.state == state]
    for entry in same_name:
        if entry.params == params:
            return entry
    return same_name[0] if same_name else None
