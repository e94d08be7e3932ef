"""Which undo stack a patch belongs to, whichever thread makes it.

A state handler (or hook) runs with its undo stack in a context variable, so
that :func:`~flask_pact_states.mock_db` registers its patches there. A thread
the handler starts does not inherit context variables, so its patches would
escape undo: :func:`thread_scope` finds the interaction that started the
thread instead (a thread that did not exist when a running handler began is
that handler's), and undoes its patches with that interaction. A patch from
such a thread after its interaction ended is refused.
"""

from __future__ import annotations

import contextvars
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, Protocol

from ..errors import PatchScopeError

#: The undo stack that patches made right now belong to (None outside a state).
_current_scope: contextvars.ContextVar[ExitStack | None] = contextvars.ContextVar(
    "flask_pact_states_scope", default=None
)


class Owner(Protocol):
    """What a thread's patches join: an interaction's undo stack."""

    number: int
    stack: ExitStack
    ended: bool


_lock = threading.Lock()
#: Threads started while a handler ran, and the interaction they belong to.
_owners: weakref.WeakKeyDictionary[threading.Thread, Owner] = (
    weakref.WeakKeyDictionary()
)
#: The handlers running now: the threads alive when each began, its owner.
_running: list[tuple[frozenset[threading.Thread], Owner]] = []


def current_scope() -> ExitStack | None:
    """The undo stack of the state (or hook) running now, else ``None``.

    :func:`~flask_pact_states.mock_db` registers its patches here so that they
    are undone with the state that made them.
    """
    return _current_scope.get()


def run_in_scope(
    scope: ExitStack, owner: Owner, func: Callable[..., Any], *args: Any
) -> Any:
    """Call ``func`` with ``scope`` as the current undo stack; threads it
    starts belong to ``owner``."""
    token = _current_scope.set(scope)
    try:
        with _handler_running(owner):
            return func(*args)
    finally:
        _current_scope.reset(token)


@contextmanager
def _handler_running(owner: Owner) -> Iterator[None]:
    entry = (frozenset(threading.enumerate()), owner)
    with _lock:
        _running.append(entry)
    try:
        yield
    finally:
        with _lock:
            _running.remove(entry)
            for thread in threading.enumerate():
                if thread not in entry[0]:
                    _owners.setdefault(thread, owner)


def thread_scope() -> Owner | None:
    """The interaction whose handler started the current thread, if any.

    :raises PatchScopeError: when that interaction has ended: its patches
        were undone, and a new one would outlive it.
    """
    thread = threading.current_thread()
    with _lock:
        owner = _owners.get(thread)
        if owner is None:
            for before, running in reversed(_running):
                if thread not in before:
                    owner = _owners[thread] = running
                    break
    if owner is not None and owner.ended:
        raise ended_error(owner)
    return owner


def ended_error(owner: Owner) -> PatchScopeError:
    """The error for a patch from a thread whose interaction has ended."""
    return PatchScopeError(
        f"A patch was made from thread {threading.current_thread().name!r},"
        f" which a state handler of interaction {owner.number} started, after"
        " that interaction ended: it would outlive every undo. Join the thread"
        " before the handler returns (or in a generator handler's teardown)."
    )
