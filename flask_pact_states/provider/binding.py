"""The binding rule: how a handler's arguments come from a state change.

Template captures and the state's ``params`` (params win on a shared name)
are passed by keyword to the parameters the handler declares, or all of them
to ``**kwargs``. The reserved names receive the rest: ``params`` the captures
with the params over them as one dict, ``state`` the state's name,
``consumer`` the consumer's. One function, :func:`bind_arguments`, applies it.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

from ..errors import StateBindingError
from .registry import Handler, StateMatch
from .templates import RESERVED_ARGUMENTS


def bind_arguments(
    match: StateMatch,
    params: Mapping[str, Any],
    *,
    state: str,
    consumer: str | None,
    reserved: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the keyword arguments for ``match.handler`` (the module's rule).

    :param reserved: more reserved names and their values (a message
        producer's ``request``); like ``params``, never passed to ``**kwargs``.
    :raises StateBindingError: when a required argument has no value.
    """
    handler = match.handler
    values = {**match.captures, **params}
    arguments: dict[str, Any] = {}
    for name in handler.parameters:
        if reserved and name in reserved:
            arguments[name] = reserved[name]
        elif name in RESERVED_ARGUMENTS:
            arguments[name] = _reserved(name, values, state, consumer)
        elif name in values:
            arguments[name] = values[name]
    if handler.takes_var_keyword:
        for name, value in values.items():
            if (
                name not in arguments
                and name not in RESERVED_ARGUMENTS | (reserved or {}).keys()
            ):
                arguments[name] = value
    missing = handler.required.difference(arguments)
    if missing:
        raise StateBindingError(_missing_message(handler, missing, state, values))
    return arguments


def _reserved(
    name: str, values: Mapping[str, Any], state: str, consumer: str | None
) -> Any:
    if name == "params":  # the captures, with the state's params over them
        return dict(values)
    return state if name == "state" else consumer


def _missing_message(
    handler: Handler, missing: Set[str], state: str, values: Mapping[str, Any]
) -> str:
    names = ", ".join(repr(name) for name in sorted(missing))
    return (
        f"{handler.label} {handler.qualname}() needs {names} but {state!r}"
        f" supplied {dict(values)!r}. Give the parameter a default, or add it to"
        " the consumer's params or the state name's placeholders."
    )
