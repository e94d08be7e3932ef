"""Every verifier's state-change request, parsed into one :class:`StateChange`.

Formats accepted (see DESIGN.md for where each comes from):

* Rust core, body mode: ``{"action": "setup"|"teardown", "state": S, "params": {...}}``
* Rust core, query mode: empty body, ``?action=setup&state=S&<param>=<value>``;
  each value is decoded as JSON when it parses, else kept as the raw string.
* Old Ruby verifier: ``{"consumer": C, "state": S, "states": [S], "params": {...}}``
* pact-jvm: ``{"state": S, "params": {...}}`` with ``action`` only for teardown.
* pactman: ``{"provider": P, "consumer": C, "state": S}`` or
  ``{"provider": P, "consumer": C, "states": [{"name": S, "params": {...}}]}``.

The consumer comes from the body's ``consumer``, else the query string's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

Action = Literal["setup", "teardown"]
ACTIONS: Final = frozenset({"setup", "teardown"})
# Query-string keys with a meaning of their own; every other key is a param.
_QUERY_KEYS: Final = frozenset({"state", "action", "consumer"})


@dataclass(frozen=True, slots=True)
class StateChange:
    """One request to enter or leave a provider state.

    .. versionadded:: 0.1
    """

    state: str
    action: Action = "setup"
    params: Mapping[str, Any] = field(default_factory=dict)
    consumer: str | None = None


class MalformedStateChange(ValueError):
    """The request is not any verifier's state-change format (answered 400)."""


def parse_state_changes(body: bytes, query: Mapping[str, str]) -> list[StateChange]:
    """Parse a state-change request's raw ``body`` and ``query`` arguments.

    :returns: one change, or several for pactman's ``states`` list.
    :raises MalformedStateChange: with a message saying what is wrong.
    """
    consumer = _optional_string(query.get("consumer"), "consumer")
    if not body.strip():
        return [_from_query(query, consumer)]
    document = _decode_json(body)
    if not isinstance(document, dict):
        kind = type(document).__name__
        msg = f"The request body must be a JSON object, got a JSON {kind}."
        raise MalformedStateChange(msg)
    return _from_document(cast(dict[str, Any], document), consumer)


def _from_query(query: Mapping[str, str], consumer: str | None) -> StateChange:
    state = query.get("state")
    if state is None:
        msg = (
            "No state given: send a JSON body with 'state', or the query"
            " parameters ?state=...&action=setup|teardown."
        )
        raise MalformedStateChange(msg)
    params = {
        name: _decode_query_value(value)
        for name, value in query.items()
        if name not in _QUERY_KEYS
    }
    return StateChange(state, _action(query.get("action")), params, consumer)


def _decode_query_value(value: str) -> Any:
    # The Rust verifier sends strings raw and JSON-encodes every other value.
    try:
        return _loads(value)
    except (ValueError, RecursionError):
        return value


def _loads(text: str) -> Any:
    """Strict JSON: Python's NaN, Infinity and overflowing numbers such as
    1e999 are no JSON, and answering them back would break the verifier."""
    return json.loads(text, parse_constant=_not_json, parse_float=_finite_float)


def _not_json(name: str) -> Any:
    msg = f"{name} is not a JSON value"
    raise ValueError(msg)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        msg = f"the number {text} is out of range"
        raise ValueError(msg)
    return value


def _decode_json(body: bytes) -> Any:
    try:
        return _loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        msg = "The request body is not valid UTF-8."
        raise MalformedStateChange(msg) from None
    except RecursionError:
        msg = "The request body's JSON is nested too deeply."
        raise MalformedStateChange(msg) from None
    except ValueError as error:
        msg = f"The request body is not valid JSON: {error}."
        raise MalformedStateChange(msg) from None


def _from_document(
    document: dict[str, Any], query_consumer: str | None
) -> list[StateChange]:
    consumer = _optional_string(document.get("consumer"), "consumer") or query_consumer
    action = _action(document.get("action"))
    params = _params(document.get("params"), "params")
    if "state" in document:
        # The Ruby verifiers send null for an interaction without states.
        state = "" if document["state"] is None else document["state"]
        if not isinstance(state, str):
            msg = f"'state' must be a string, got {_json_type(state)}."
            raise MalformedStateChange(msg)
        return [StateChange(state, action, params, consumer)]
    if "states" in document:
        return _from_states_list(document["states"], action, params, consumer)
    msg = "The request body has no 'state' (nor a 'states' list)."
    raise MalformedStateChange(msg)


def _from_states_list(
    states: Any, action: Action, params: dict[str, Any], consumer: str | None
) -> list[StateChange]:
    if not isinstance(states, list):
        msg = f"'states' must be a list, got {_json_type(states)}."
        raise MalformedStateChange(msg)
    if not states:
        return [StateChange("", action, params, consumer)]
    changes = []
    for entry in states:
        if entry is None or isinstance(entry, str):  # old Ruby verifier
            changes.append(StateChange(entry or "", action, params, consumer))
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
            entry_params = _params(entry.get("params"), "states[].params")
            changes.append(StateChange(entry["name"], action, entry_params, consumer))
        else:
            msg = (
                "Each entry of 'states' must be a state name or an object with"
                f" a string 'name', got {_json_type(entry)}."
            )
            raise MalformedStateChange(msg)
    return changes


def _action(value: Any) -> Action:
    if value is None:
        return "setup"
    if not isinstance(value, str) or value not in ACTIONS:
        msg = f"Unknown action {value!r}: use 'setup' or 'teardown'."
        raise MalformedStateChange(msg)
    return cast(Action, value)


def _params(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        msg = f"'{name}' must be a JSON object, got {_json_type(value)}."
        raise MalformedStateChange(msg)
    return value


def _optional_string(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    msg = f"'{name}' must be a string, got {_json_type(value)}."
    raise MalformedStateChange(msg)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")
