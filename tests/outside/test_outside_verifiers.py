"""Verifiers other people wrote, as clients of the blueprint: a hand-made pact.

Each verifier runs for real against an app served through Flask's own
request handling on 127.0.0.1, with a recorder in front that keeps every
request. The tests assert on everything each verifier sent, in order (so a
format change in any of them shows up), and on its verdict. The verifiers
come from ``.ci/outside-verifiers.sh`` (see ``outside_helpers``); a missing
one is skipped, saying how to install it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from flask import Flask
from outside_helpers import (
    VERIFIERS,
    Provider,
    Recorder,
    expected_transcript,
    read_call,
    transcript,
)
from serving_helpers import served
from verify_helpers import hand_pact, http_interaction, make_app

from flask_pact_states import PactStates, mock_db

pytestmark = pytest.mark.e2e

#: Params of every JSON type, and a string that parses as JSON.
EVERY_TYPE: Final = {
    "text": "Verna",
    "digits": "123",
    "int": 7,
    "float": 1.5,
    "true": True,
    "null": None,
    "list": [1, "a"],
    "object": {"k": "v"},
}


@pytest.fixture
def provider() -> Iterator[Provider]:
    states = PactStates()

    @states.register("user {user_id:int} exists")
    def user_exists(user_id: int) -> None:
        mock_db("verify_helpers.USERS", {user_id: f"user {user_id}"})

    @states.register("the mailer is up")
    def mailer_is_up() -> None: ...

    @states.register("params of every type")
    def every_type(**params: Any) -> None: ...

    @states.register("a broken state")
    def broken() -> None:
        raise RuntimeError("broken on purpose")

    app: Flask = make_app(states, PACT_STATES_PROVIDER="Users")
    recorder = Recorder(app.wsgi_app)
    app.wsgi_app = recorder  # type: ignore[method-assign]
    with served(app) as port:
        yield Provider(f"http://127.0.0.1:{port}", recorder, "Users")
    # pactman and Ruby never tear down: the last interaction's states stay.
    states.reset(app)


def good_interactions() -> list[dict[str, Any]]:
    """Two states on one interaction, params of every type, a stateless one
    (``"providerStates": []``) and one whose pact has no such key."""
    two_states = http_interaction(
        "a request for user 5", "/users/5", states=["user 5 exists"]
    )
    two_states["providerStates"].append({"name": "the mailer is up", "params": {}})
    two_states["response"]["body"] = {"id": 5, "name": "user 5"}
    typed = http_interaction("a request with typed params")
    typed["providerStates"] = [{"name": "params of every type", "params": EVERY_TYPE}]
    stateless = http_interaction("a stateless request")
    keyless = http_interaction("a request without a providerStates key")
    del keyless["providerStates"]
    return [two_states, typed, stateless, keyless]


def leak_pact(directory: Path) -> Path:
    """An unknown state, then a failing one, each before a real state and
    followed by a stateless interaction that must not see the real state's
    row (issue 16, item 2)."""
    unknown = http_interaction(
        "a request in an unknown state",
        states=["a state nobody registered", "user 5 exists"],
    )
    failing = http_interaction(
        "a request in a broken state", states=["a broken state", "user 5 exists"]
    )
    after = http_interaction("a request for user 5, gone", "/users/5")
    after["response"] = {"status": 404}
    return hand_pact(directory / "leak.json", [unknown, after, failing, after])


@pytest.mark.parametrize("name", VERIFIERS)
def test_outside_verifier_passes_and_sends_what_it_is_known_to(
    name: str, provider: Provider, tmp_path: Path
) -> None:
    run, family = VERIFIERS[name]
    interactions = good_interactions()

    verdict = run(provider, hand_pact(tmp_path / "good.json", interactions))

    requests = ["GET /users/5 200", "GET /ping 200", "GET /ping 200", "GET /ping 200"]
    assert verdict.status == 0, verdict.output
    assert transcript(provider.recorder.calls) == expected_transcript(
        interactions, family, requests
    )
    keys = {read_call(raw).keys for raw in provider.recorder.state_calls()}
    assert keys == {BODY_KEYS["query" if "query" in name else family]}


#: The keys of each family's state call bodies (``<query>``: no body).
BODY_KEYS: Final = {
    "query": frozenset({"<query>"}),
    "rust": frozenset({"action", "state", "params"}),
    "rust teardown": frozenset({"action", "state", "params"}),
    "pactman": frozenset({"provider", "consumer", "states"}),
    "ruby": frozenset({"consumer", "state", "states", "params"}),
}


@pytest.mark.parametrize("name", VERIFIERS)
def test_outside_verifier_params_keep_their_types_except_in_query_mode(
    name: str, provider: Provider, tmp_path: Path
) -> None:
    run, _ = VERIFIERS[name]
    run(provider, hand_pact(tmp_path / "good.json", good_interactions()))

    calls = [read_call(raw) for raw in provider.recorder.state_calls()]
    typed = next(c for c in calls if c.states == ("params of every type",))
    if "query" in name:
        # Strings raw, other values JSON-encoded: "123" and 123 look alike.
        assert typed.params == {
            "text": "Verna",
            "digits": "123",
            "int": "7",
            "float": "1.5",
            "true": "true",
            "null": "null",
            "list": '[1,"a"]',
            "object": '{"k":"v"}',
        }
    else:
        assert typed.params == EVERY_TYPE


#: What each family sent for the leak pact. The Rust verifier still sends a
#: failed interaction's other setups, then skips its request and teardowns;
#: Ruby stops at the failed state and skips the request; pactman sends the
#: request anyway and passes the interaction.
LEAK_TRANSCRIPTS: Final = {
    "rust": [
        'setup "a state nobody registered" 404',
        'setup "user 5 exists" 200',
        'setup "" 200',
        "GET /users/5 404",
        'setup "a broken state" 422',
        'setup "user 5 exists" 200',
        'setup "" 200',
        "GET /users/5 404",
    ],
    "pactman": [
        'setup "a state nobody registered" + "user 5 exists" 404',
        "GET /ping 200",
        "setup [] 200",
        "GET /users/5 404",
        'setup "a broken state" + "user 5 exists" 422',
        "GET /ping 200",
        "setup [] 200",
        "GET /users/5 404",
    ],
    "ruby": [
        'setup "a state nobody registered" 404',
        "setup null 200",
        "GET /users/5 404",
        'setup "a broken state" 422',
        "setup null 200",
        "GET /users/5 404",
    ],
}


@pytest.mark.parametrize("name", VERIFIERS)
def test_outside_verifier_failed_state_leaks_nothing_into_the_next_interaction(
    name: str, provider: Provider, tmp_path: Path
) -> None:
    run, family = VERIFIERS[name]

    verdict = run(provider, leak_pact(tmp_path))

    expected = LEAK_TRANSCRIPTS[family.removesuffix(" teardown")]
    if family == "rust teardown":  # only for the interactions that ran
        teardown = 'teardown "" 200'
        expected = [
            line
            for sent in expected
            for line in ([sent, teardown] if sent.startswith("GET") else [sent])
        ]
    assert transcript(provider.recorder.calls) == expected
    # pactman only warns about a failed state call.
    assert (verdict.status == 0) is (family == "pactman"), verdict.output


@pytest.mark.parametrize(
    ("name", "shown", "hidden"),
    [
        # Ruby shows the answer's body, the Rust verifier only its status.
        ("ruby", "RuntimeError: broken on purpose", None),
        ("pact cli body", "Invalid status code: 422", "broken on purpose"),
        ("pact-js", "Invalid status code: 422", "broken on purpose"),
        ("pactman", "Invalid provider state", "broken on purpose"),
    ],
)
def test_outside_verifier_shows_a_failed_state_so(
    name: str, shown: str, hidden: str | None, provider: Provider, tmp_path: Path
) -> None:
    run, _ = VERIFIERS[name]

    verdict = run(provider, leak_pact(tmp_path))

    assert shown in verdict.output
    assert hidden is None or hidden not in verdict.output
