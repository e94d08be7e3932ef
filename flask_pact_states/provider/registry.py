"""The table of state handlers and the rules that bind a state change to one.

No Flask in here: the registry is plain data so that the CLI's static ``check``,
the endpoint and the tests all share one definition of "which handler answers
this state, with which arguments".

Rules, stated once (the docs quote them):

* **Lookup order** for a state sent by consumer ``C``: handlers scoped to ``C``
  before unscoped ones; within a scope, an exact name before a template; among
  templates, the one with more literal (non-placeholder) characters first, then
  the one registered first. A state equal to a template's own text is an exact
  match with no captures.
* **Binding**: template captures and the state's params (params win on a shared
  name) go by keyword to the parameters the handler declares, or all of them to
  ``**kwargs``. The reserved names ``params`` (the whole dict), ``state`` and
  ``consumer`` receive those values instead.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any, Final

from ..errors import DuplicateStateError, StateRegistrationError
from .templates import (
    Template,
    compile_template,
    template_signature,
)

__all__ = [
    "Handler",
    "HandlerKind",
    "StateMatch",
    "StateRegistry",
    "make_handler",
]


_LABELS: Final = {"state": "State handler", "message": "Message producer"}


class HandlerKind(Enum):
    """How a handler is called: its setup and, for generators, its teardown."""

    FUNCTION = "function"
    COROUTINE = "coroutine"
    GENERATOR = "generator"
    ASYNC_GENERATOR = "async generator"


@dataclass(frozen=True, eq=False)
class Handler:
    """A registered callback and what registration learnt about its signature."""

    func: Callable[..., Any]
    names: tuple[str, ...]
    consumer: str | None
    kind: HandlerKind
    parameters: tuple[str, ...]
    required: frozenset[str]
    takes_var_keyword: bool
    #: ``"state"`` for a state handler, ``"message"`` for a message producer.
    kind_of_name: str = "state"

    @property
    def label(self) -> str:
        """``State handler`` or ``Message producer``, for error messages."""
        return _LABELS[self.kind_of_name]

    @cached_property  # read on every state change, for the journal
    def qualname(self) -> str:
        """``module.function`` for messages."""
        module = getattr(self.func, "__module__", None) or "?"
        return f"{module}.{getattr(self.func, '__qualname__', repr(self.func))}"

    def ignored(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The params no argument of this handler receives: it neither
        declares them nor takes ``**kwargs`` or ``params``."""
        if self.takes_var_keyword or "params" in self.parameters:
            return ()
        return tuple(name for name in params if name not in self.parameters)

    @property
    def location(self) -> str:
        """``path:line`` where the handler is defined, for ``pact-states list``."""
        func = inspect.unwrap(self.func)
        try:
            path = inspect.getsourcefile(func) or "?"
            line = inspect.getsourcelines(func)[1]
        except (OSError, TypeError):
            return "?"
        return f"{path}:{line}"


def make_handler(
    func: Callable[..., Any],
    names: tuple[str, ...],
    consumer: str | None,
    kind_of_name: str = "state",
) -> Handler:
    """Inspect ``func`` once so that each state change binds arguments cheaply.

    :raises StateRegistrationError: when ``func`` is not callable or has
        positional-only parameters without defaults.
    """
    if not callable(func):
        msg = f"A {_LABELS[kind_of_name].lower()} must be callable, got {func!r}."
        raise StateRegistrationError(msg)
    parameters: list[str] = []
    required: set[str] = set()
    takes_var_keyword = False
    for parameter in inspect.signature(func).parameters.values():
        if parameter.kind is parameter.VAR_KEYWORD:
            takes_var_keyword = True
        elif parameter.kind is parameter.POSITIONAL_ONLY:
            if parameter.default is parameter.empty:
                msg = (
                    f"{_LABELS[kind_of_name]} {func.__qualname__}() has the"
                    f" positional-only parameter {parameter.name!r}; arguments come"
                    " by keyword, so drop the '/' or give it a default."
                )
                raise StateRegistrationError(msg)
        elif parameter.kind is not parameter.VAR_POSITIONAL:
            parameters.append(parameter.name)
            if parameter.default is parameter.empty:
                required.add(parameter.name)
    return Handler(
        func=func,
        names=names,
        consumer=consumer,
        kind=_kind_of(func),
        parameters=tuple(parameters),
        required=frozenset(required),
        takes_var_keyword=takes_var_keyword,
        kind_of_name=kind_of_name,
    )


def _kind_of(func: Callable[..., Any]) -> HandlerKind:
    if inspect.isasyncgenfunction(func):
        return HandlerKind.ASYNC_GENERATOR
    if inspect.isgeneratorfunction(func):
        return HandlerKind.GENERATOR
    if inspect.iscoroutinefunction(func):
        return HandlerKind.COROUTINE
    return HandlerKind.FUNCTION


@dataclass(frozen=True)
class StateMatch:
    """The handler chosen for a state and the values its name captured."""

    handler: Handler
    registered_name: str
    captures: Mapping[str, Any]


@dataclass
class _SuffixBucket:
    """Templates sharing one literal prefix, indexed by their literal suffix."""

    by_suffix: dict[str, list[tuple[int, Template, Handler]]] = field(
        default_factory=dict
    )
    suffix_lengths: list[int] = field(default_factory=list)


class _Scope:
    """The handlers of one consumer scope: exact names and indexed templates.

    Templates are bucketed by literal prefix, then literal suffix, so a lookup
    tries only templates whose fixed text fits the state instead of every
    registered regex.
    """

    def __init__(self) -> None:
        self.exact: dict[str, Handler] = {}
        self.templates: dict[str, tuple[Template, Handler]] = {}
        self._signatures: dict[str, str] = {}
        self._by_prefix: dict[str, _SuffixBucket] = {}
        self._prefix_lengths: list[int] = []

    def add(self, name: str, template: Template | None, handler: Handler) -> None:
        self.exact[name] = handler
        if template is None:
            return
        self.templates[name] = (template, handler)
        self._signatures[template_signature(template)] = name
        bucket = self._by_prefix.setdefault(template.prefix, _SuffixBucket())
        _insert_sorted(self._prefix_lengths, len(template.prefix))
        _insert_sorted(bucket.suffix_lengths, len(template.suffix))
        # Rank: more literal text first, then registration order.
        rank = (-template.literal_length * 1_000_000) + len(self.templates)
        candidates = bucket.by_suffix.setdefault(template.suffix, [])
        candidates.append((rank, template, handler))
        candidates.sort(key=lambda candidate: candidate[0])

    def clashing_name(self, name: str, template: Template | None) -> str | None:
        if name in self.exact:
            return name
        if template is not None:
            return self._signatures.get(template_signature(template))
        return None

    def resolve(self, state: str) -> StateMatch | None:
        handler = self.exact.get(state)
        if handler is not None:
            return StateMatch(handler, state, {})
        best: tuple[int, Template, Handler, dict[str, Any]] | None = None
        size = len(state)
        # Only templates whose literal prefix and suffix fit the state are tried.
        for prefix_length in self._prefix_lengths:
            if prefix_length > size:
                break
            bucket = self._by_prefix.get(state[:prefix_length])
            if bucket is None:
                continue
            for suffix_length in bucket.suffix_lengths:
                if prefix_length + suffix_length > size:
                    break
                suffix = state[size - suffix_length :] if suffix_length else ""
                for rank, template, handler in bucket.by_suffix.get(suffix, ()):
                    if best is not None and best[0] <= rank:
                        break  # candidates are sorted by rank
                    captures = template.match(state)
                    if captures is not None:
                        best = (rank, template, handler, captures)
                        break
        if best is None:
            return None
        return StateMatch(best[2], best[1].text, best[3])


def _insert_sorted(values: list[int], value: int) -> None:
    if value not in values:
        values.append(value)
        values.sort()


class StateRegistry:
    """State name -> handler table with consumer scopes.

    .. versionadded:: 0.1
    """

    def __init__(self, kind_of_name: str = "state") -> None:
        #: ``"state"``: names are provider states; ``"message"``: message
        #: descriptions (the same rules apply).
        self.kind_of_name = kind_of_name
        self._scopes: dict[str | None, _Scope] = {None: _Scope()}
        self._handlers: list[Handler] = []

    def add(
        self,
        names: Iterable[str],
        func: Callable[..., Any],
        *,
        consumer: str | None = None,
    ) -> Handler:
        """Register ``func`` for every name in ``names`` within ``consumer``'s scope.

        :raises DuplicateStateError: when a name (or an equivalent template) is
            already registered in that scope.
        :raises StateRegistrationError: for a bad name, template or signature.
        """
        names = tuple(names)
        _check_names(names, consumer, self.kind_of_name)
        handler = make_handler(func, names, consumer, self.kind_of_name)
        compiled = [(name, compile_template(name)) for name in names]
        scope = self._scopes.setdefault(consumer, _Scope())
        for name, template in compiled:
            _check_captures_bindable(handler, name, template)
            clash = scope.clashing_name(name, template)
            if clash is not None:
                raise DuplicateStateError(
                    _duplicate_message(name, clash, scope, consumer)
                )
        for name, template in compiled:
            scope.add(name, template, handler)
        self._handlers.append(handler)
        return handler

    def resolve(self, state: str, consumer: str | None = None) -> StateMatch | None:
        """Find the handler for ``state`` as sent by ``consumer`` (see module rules)."""
        if consumer is not None:
            scoped = self._scopes.get(consumer)
            if scoped is not None:
                found = scoped.resolve(state)
                if found is not None:
                    return found
        return self._scopes[None].resolve(state)

    @property
    def handlers(self) -> tuple[Handler, ...]:
        """Every registered handler, in registration order."""
        return tuple(self._handlers)

    def known_names(self, consumer: str | None = None) -> list[str]:
        """Names a state from ``consumer`` could match, scoped ones first."""
        names = list(self._scopes[None].exact)
        if consumer is not None and consumer in self._scopes:
            names = list(self._scopes[consumer].exact) + names
        return names

    def close_matches(self, state: str, consumer: str | None = None) -> list[str]:
        """Registered names that look like ``state``, best first."""
        return difflib.get_close_matches(state, self.known_names(consumer), n=3)

    def __len__(self) -> int:
        return sum(len(scope.exact) for scope in self._scopes.values())


def _check_names(names: tuple[str, ...], consumer: str | None, kind: str) -> None:
    noun = "state name" if kind == "state" else "message description"
    if not names:
        msg = f"Registering needs at least one {noun}."
        raise StateRegistrationError(msg)
    for name in names:
        if not isinstance(name, str):
            msg = f"A {noun} must be a string, got {name!r}."
            raise StateRegistrationError(msg)
    if len(set(names)) != len(names):
        msg = f"The same {noun} is listed twice in {names!r}."
        raise DuplicateStateError(msg)
    if consumer is not None and (not isinstance(consumer, str) or not consumer):
        msg = f"consumer must be a non-empty string, got {consumer!r}."
        raise StateRegistrationError(msg)


def _check_captures_bindable(
    handler: Handler, name: str, template: Template | None
) -> None:
    # ``params`` receives every capture too (merged under the state's params).
    if template is None or handler.takes_var_keyword or "params" in handler.parameters:
        return
    for capture, _ in template.converters:
        if capture not in handler.parameters:
            msg = (
                f"{handler.label} {handler.qualname}() has no parameter {capture!r}"
                f" for the placeholder in {name!r}; add the parameter, params or"
                " **kwargs."
            )
            raise StateRegistrationError(msg)


def _duplicate_message(
    name: str, clash: str, scope: _Scope, consumer: str | None
) -> str:
    existing = scope.exact[clash].qualname
    where = f"for consumer {consumer!r}" if consumer else "without a consumer scope"
    same = "" if clash == name else f" (it matches the same states as {clash!r})"
    noun = "State" if scope.exact[clash].kind_of_name == "state" else "Message"
    return (
        f"{noun} {name!r} is already registered {where} by {existing}(){same}."
        f" Register each {noun.lower()} once, or scope one of them with consumer=..."
    )
