"""Paste-ready source for a missing state handler or message producer."""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from typing import Any

from .templates import RESERVED_ARGUMENTS


def handler_stub(state: str, params: Mapping[str, Any], consumer: str | None) -> str:
    """Python source for a handler of ``state``, ready to paste into a module.

    Each param the binding rule can pass by name becomes a parameter; when
    any cannot (not an identifier, a keyword such as ``class``, or a
    reserved name), the handler takes ``params``, the whole dict, as well.
    """
    arguments = _arguments(params)
    scope = f", consumer={consumer!r}" if consumer else ""
    return (
        f"@states.register({state!r}{scope})\n"
        f"def {_function_name(state)}({', '.join(arguments)}):\n"
        f"    ...  # put the provider into this state, e.g. with mock_db()\n"
    )


def _arguments(params: Mapping[str, Any]) -> list[str]:
    arguments = [name for name in params if _bindable_by_name(name)]
    if len(arguments) != len(params):
        arguments.append("params")
    return arguments


def _bindable_by_name(name: str) -> bool:
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and name not in RESERVED_ARGUMENTS
    )


def _function_name(state: str) -> str:
    words = re.findall(r"[a-z0-9]+", state.lower())
    name = "_".join(words)[:60].rstrip("_") or "state"
    return f"given_{name}"


def producer_stub(
    description: str, params: Mapping[str, Any], consumer: str | None
) -> str:
    """Python source for a producer of the message ``description``."""
    arguments = _arguments(params)
    scope = f", consumer={consumer!r}" if consumer else ""
    words = re.findall(r"[a-z0-9]+", description.lower())
    name = "_".join(words)[:60].rstrip("_") or "message"
    return (
        f"@states.message({description!r}{scope})\n"
        f"def produce_{name}({', '.join(arguments)}):\n"
        "    with capture('myapp.events.publish') as sent:  # the real publisher\n"
        "        ...  # run the code that publishes this message\n"
        "    return Message(sent.arguments['payload'])\n"
    )
