"""``mock_db`` and friends: swap an app's globals for one state, undone on time.

Inside a state handler (or a ``before_each`` hook) every patch belongs to that
state and is undone with it. Outside one, each helper's result is also a
context manager (for :func:`patch`: when the replacement is a mock that
supports ``with``); a patch left running outside a ``with`` block is undone by
:func:`undo_patches` (the pytest plugin calls it after every test).
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from types import TracebackType
from typing import Any, Final
from unittest import mock

from flask import current_app

from ..errors import MockTargetError
from .scopes import current_scope, ended_error, thread_scope

#: ``"package.module.NAME"``, ``"package.module:NAME"`` or ``(owner, "NAME")``.
Target = str | tuple[object, str]

# Mapping methods of a mock_db mock that read and write its backing dict.
_MAPPING_METHODS: Final = (
    "__getitem__",
    "__setitem__",
    "__delitem__",
    "__contains__",
    "__len__",
    "__iter__",
    "__bool__",
    "get",
    "keys",
    "values",
    "items",
    "pop",
    "setdefault",
    "update",
    "clear",
    "copy",
)

_unscoped = ExitStack()
_active_lock = threading.Lock()
_active = 0


def mock_db(
    target: Target, data: Mapping[Any, Any] | None = None, /, **configure: Any
) -> mock.MagicMock:
    """Replace ``target`` with a :class:`~unittest.mock.MagicMock` that acts as a dict.

    The mock's mapping protocol (``get``, ``[]``, ``in``, ``len``, iteration,
    ``keys``, ``items``, ``update``...) works on a copy of ``data``, so the app
    reads and writes it like a dict while tests can still assert on calls.
    ``configure`` goes to :meth:`~unittest.mock.Mock.configure_mock` and wins
    over the dict behaviour: ``mock_db(T, **{"__len__.return_value": 124})``.

    :param target: ``"myapp.db.FAKE_DB"``, ``"myapp.db:FAKE_DB"`` or
        ``(object, "attribute")``.
    :param data: the initial contents (copied).
    :returns: the mock now standing in for ``target``.
    :raises MockTargetError: when ``target`` cannot be found.

    .. versionadded:: 0.1
    """
    owner, attribute = resolve_target(target)  # a bad target fails before any mock
    replacement = _DictMock(dict(data or {}), name=describe_target(target))
    for key in configure:
        # A side effect hides return_value, so a configured return value must
        # switch the dict behaviour of that method off.
        head, _, rest = key.partition(".")
        if head in _SIDE_EFFECT_METHODS and rest == "return_value":
            getattr(replacement, head).side_effect = None
    replacement.configure_mock(**configure)
    _install(owner, attribute, replacement)
    return replacement


def patch(target: Target, new: Any = mock.DEFAULT, /, **configure: Any) -> Any:
    """Replace ``target`` with ``new`` for the current state.

    Without ``new``, the replacement is an autospec of the original (calls
    with a wrong signature fail as they would for real), configured with
    ``configure``. Outside a state, ``with patch(...) as new:`` works when the
    replacement is a mock that supports ``with`` (its ``__enter__`` and
    ``__exit__`` are then taken over); other patches last until
    :func:`undo_patches`.

    :returns: the replacement.
    :raises MockTargetError: when ``target`` cannot be found, or (without
        ``new``) is a mock already, which cannot be autospecced.

    .. versionadded:: 0.1
    """
    owner, attribute = resolve_target(target)
    if new is mock.DEFAULT:
        original = getattr(owner, attribute)
        if isinstance(original, mock.NonCallableMock):
            msg = (
                f"Cannot autospec {describe_target(target)}: it is a mock already (did"
                " another state of this interaction patch it?). Pass the"
                " replacement, patch(target, new), or patch it in one state only."
            )
            raise MockTargetError(msg)
        new = mock.create_autospec(original, **configure)
    elif configure:
        msg = "patch() takes configure keywords only when it creates the mock."
        raise TypeError(msg)
    return _install(owner, attribute, new)


def override_config(
    values: Mapping[str, Any] | None = None, /, **keys: Any
) -> AbstractContextManager[None]:
    """Set ``app.config`` keys of the current app for the current state.

    :returns: outside a state, a context manager that restores the config at
        the end of its ``with`` block.

    .. versionadded:: 0.1
    """
    patcher = mock.patch.dict(current_app.config, {**(values or {}), **keys})
    return _Undo(start_patch(patcher))


def undo_patches() -> None:
    """Undo every patch started outside a state and outside a ``with`` block.

    .. versionadded:: 0.1
    """
    _unscoped.close()


def active_patch_count() -> int:
    """How many patches made by these helpers are in place right now.

    .. versionadded:: 0.1
    """
    return _active


def _install(owner: object, attribute: str, replacement: Any) -> Any:
    # Inside a state the state undoes the patch, and the app's own `with` on
    # the replacement (`with conn:`) must keep the mock's behaviour.
    in_state = current_scope() is not None or thread_scope() is not None
    wire_with = not in_state and _supports_with(replacement)
    patcher = mock.patch.object(owner, attribute, replacement)
    stop = start_patch(patcher)
    if wire_with:
        # `with mock_db(...) as db:` undoes the patch at the end of the block.
        replacement.__enter__.side_effect = lambda: replacement
        replacement.__exit__.side_effect = lambda *exc_info: _stop_quietly(stop)
    return replacement


def _supports_with(replacement: Any) -> bool:
    # An autospec of an object without __enter__ has no such attribute.
    return isinstance(replacement, mock.NonCallableMock) and all(
        hasattr(replacement, name) for name in ("__enter__", "__exit__")
    )


def _stop_quietly(stop: Callable[[], None]) -> bool:
    stop()
    return False  # never swallow the exception that ended the with block


class _Undo(AbstractContextManager[None]):
    """``with override_config(...):`` undoes the override at the end of the block."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self._stop = stop

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop()


def start_patch(patcher: Any) -> Callable[[], None]:
    """Start ``patcher`` in the current state's scope (or the unscoped one).

    :returns: a function that undoes the patch now (later undo is a no-op).
    """
    owner = None if current_scope() is not None else thread_scope()
    scope = current_scope() or (owner.stack if owner else _unscoped)
    stack = ExitStack()
    stack.enter_context(_counted(patcher))
    scope.push(stack)
    if owner is not None and owner.ended:
        # It ended while this patch went in (it is ended before its undo).
        stack.close()
        raise ended_error(owner)
    return stack.close


@contextmanager
def _counted(patcher: Any) -> Iterator[None]:
    global _active
    with patcher:
        with _active_lock:
            _active += 1
        try:
            yield
        finally:
            with _active_lock:
                _active -= 1


class _DictMock(mock.MagicMock):
    """A MagicMock whose mapping methods act on a dict, wired on first use.

    Each child mock costs about as much as the parent (unittest.mock builds a
    class per mock), so nothing is wired up front: wiring all sixteen methods
    made ``mock_db`` 1.7 ms a call, and most states touch two or three.
    """

    def __init__(self, store: dict[Any, Any], /, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.__dict__["_pact_store"] = store

    def _get_child_mock(self, /, **kwargs: Any) -> mock.MagicMock:
        # Children are plain MagicMocks: only the top-level mock has a store.
        child = mock.MagicMock(**kwargs)
        name = kwargs.get("_new_name") or kwargs.get("name")
        store = self.__dict__.get("_pact_store")
        if store is None or name not in _MAPPING_METHODS:
            return child
        if name == "__iter__":
            # unittest.mock gives __iter__ its own side effect after this
            # returns; that one iterates over the return value, afresh per call.
            child.return_value = store
        else:
            child.side_effect = _mapping_method(store, name)
        return child


#: Mapping methods whose dict behaviour is a side effect (which hides a
#: configured return value); ``__iter__`` works through its return value.
_SIDE_EFFECT_METHODS: Final = frozenset(_MAPPING_METHODS) - {"__iter__"}


def _mapping_method(store: dict[Any, Any], method: str) -> Any:
    if method == "__bool__":
        return lambda: bool(store)
    return getattr(store, method)


def resolve_target(target: Target) -> tuple[object, str]:
    owner_name, attribute = _split(target)
    if isinstance(target, tuple):
        owner: object = target[0]
    else:
        owner = _import(owner_name, target)
    if not hasattr(owner, attribute):
        msg = (
            f"Cannot patch {describe_target(target)}: {owner_name} has no attribute"
            f" {attribute!r}. Check the spelling, and patch the name where the"
            " app reads it."
        )
        raise MockTargetError(msg)
    return owner, attribute


def _split(target: Target) -> tuple[str, str]:
    if isinstance(target, tuple):
        if len(target) != 2 or not isinstance(target[1], str):
            msg = f"A patch target pair must be (object, 'attribute'), got {target!r}."
            raise MockTargetError(msg)
        return repr(target[0]), target[1]
    if not isinstance(target, str):
        msg = f"A patch target must be a dotted name or a pair, got {target!r}."
        raise MockTargetError(msg)
    module, colon, path = target.partition(":")
    if colon and "." not in path:
        return module, path
    owner, dot, attribute = target.rpartition(".")
    if not dot or not owner or not attribute:
        msg = (
            f"Cannot patch {target!r}: name the module too, as in"
            " 'myapp.db.FAKE_DB' or 'myapp.db:FAKE_DB'."
        )
        raise MockTargetError(msg)
    return owner, attribute


def _import(owner_name: str, target: Target) -> object:
    try:
        if ":" in owner_name or "." in owner_name:
            return pkgutil.resolve_name(owner_name)
        return importlib.import_module(owner_name)
    except (ImportError, AttributeError, ValueError) as error:
        what = describe_target(target)
        msg = f"Cannot patch {what}: {owner_name!r} not found ({error})."
        raise MockTargetError(msg) from None


def describe_target(target: Target) -> str:
    if isinstance(target, tuple) and len(target) == 2:
        return f"{target[0]!r}.{target[1]}"
    return repr(target)
