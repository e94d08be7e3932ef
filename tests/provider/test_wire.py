"""Parsing every verifier's state-change request into StateChange values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flask_pact_states.provider.wire import (
    MalformedStateChange,
    StateChange,
    parse_state_changes,
)


def parse(body: Any = None, **query: str) -> list[StateChange]:
    raw = (
        body
        if isinstance(body, bytes)
        else b""
        if body is None
        else json.dumps(body).encode()
    )
    return parse_state_changes(raw, query)


@pytest.mark.parametrize(
    ("body", "query", "expected"),
    [
        pytest.param(
            {"action": "setup", "params": {"id": 1}, "state": "s"},
            {},
            [StateChange("s", "setup", {"id": 1})],
            id="rust-body",
        ),
        pytest.param(
            {"action": "teardown", "params": {}, "state": "s"},
            {"consumer": "Web"},
            [StateChange("s", "teardown", {}, "Web")],
            id="rust-body-consumer-in-url",
        ),
        pytest.param(
            None,
            {"action": "setup", "state": "s", "id": "123", "name": "Al", "ok": "true"},
            [StateChange("s", "setup", {"id": 123, "name": "Al", "ok": True})],
            id="rust-query",
        ),
        pytest.param(
            None,
            {"state": "s", "consumer": "web", "obj": '{"a": [1]}', "text": "{oops"},
            [StateChange("s", "setup", {"obj": {"a": [1]}, "text": "{oops"}, "web")],
            id="rust-query-json-values",
        ),
        pytest.param(
            {"consumer": "C", "state": "s", "states": ["s"], "params": {"a": 1}},
            {},
            [StateChange("s", "setup", {"a": 1}, "C")],
            id="ruby",
        ),
        pytest.param(
            {"state": "s", "params": {"a": 1}},
            {},
            [StateChange("s", "setup", {"a": 1})],
            id="jvm",
        ),
        pytest.param(
            {"state": "s", "params": {}, "action": "teardown"},
            {},
            [StateChange("s", "teardown", {})],
            id="jvm-teardown",
        ),
        pytest.param(
            {"provider": "P", "consumer": "C", "state": "s"},
            {},
            [StateChange("s", "setup", {}, "C")],
            id="pactman-single",
        ),
        pytest.param(
            {
                "provider": "P",
                "consumer": "C",
                "states": [{"name": "a", "params": {"x": 1}}, {"name": "b"}],
            },
            {},
            [
                StateChange("a", "setup", {"x": 1}, "C"),
                StateChange("b", "setup", {}, "C"),
            ],
            id="pactman-list",
        ),
        pytest.param(
            {"consumer": "C", "states": []},
            {},
            [StateChange("", "setup", {}, "C")],
            id="pactman-no-states",
        ),
        pytest.param(
            {"state": "", "params": {}, "action": "setup"},
            {},
            [StateChange("", "setup", {})],
            id="empty-state",
        ),
        pytest.param(
            {"state": "s", "params": None},
            {},
            [StateChange("s", "setup", {})],
            id="null-params",
        ),
    ],
)
def test_parse_state_changes_accepts_every_format(
    body: Any, query: dict[str, str], expected: list[StateChange]
) -> None:
    assert parse(body, **query) == expected


def test_parse_body_consumer_wins_over_query_consumer() -> None:
    assert (
        parse({"state": "s", "consumer": "Body"}, consumer="Url")[0].consumer == "Body"
    )


@pytest.mark.parametrize(
    ("body", "query", "message"),
    [
        (b"{not json", {}, "not valid JSON"),
        (b"\xff\xfe\x00", {}, "not valid UTF-8"),
        (
            b"[" * 100_000 + b"]" * 100_000,
            {},
            "nested too deeply|not a JSON object|must be a JSON object",
        ),
        ([1, 2], {}, "must be a JSON object, got a JSON list"),
        ("text", {}, "must be a JSON object, got a JSON str"),
        ({"params": {}}, {}, "no 'state'"),
        ({"state": 5}, {}, "'state' must be a string, got a number"),
        ({"state": [None]}, {}, "'state' must be a string, got a list"),
        (
            {"state": "s", "params": [1]},
            {},
            "'params' must be a JSON object, got a list",
        ),
        ({"state": "s", "action": "explode"}, {}, "Unknown action 'explode'"),
        ({"state": "s", "action": ["setup"]}, {}, "Unknown action"),
        ({"state": "s", "consumer": 3}, {}, "'consumer' must be a string"),
        ({"states": "s"}, {}, "'states' must be a list"),
        ({"states": [3]}, {}, "Each entry of 'states'"),
        ({"states": [{"name": "a", "params": "x"}]}, {}, r"states\[\].params"),
        (None, {}, "No state given"),
        (None, {"state": "s", "action": "nope"}, "Unknown action 'nope'"),
    ],
)
def test_parse_state_changes_rejects_malformed_requests(
    body: Any, query: dict[str, str], message: str
) -> None:
    with pytest.raises(MalformedStateChange, match=message):
        parse(body, **query)


@pytest.mark.parametrize(
    "document",
    [
        {"consumer": "Web", "state": None, "states": [None], "params": {}},
        {"consumer": "Web", "states": [None]},
    ],
)
def test_parse_state_changes_reads_ruby_s_null_state_as_no_state(
    document: dict[str, object],
) -> None:
    """The Ruby verifiers' call for an interaction without provider states."""
    changes = parse_state_changes(json.dumps(document).encode(), {})

    assert [(c.state, c.action, c.consumer) for c in changes] == [("", "setup", "Web")]
