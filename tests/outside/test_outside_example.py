"""Verifiers other people wrote against the users example, with its own pact.

The example app (``examples/flask_users``) is served through Flask's own
request handling with its provider states mounted; each verifier replays the
pact's HTTP interactions (messages need a transport only pact-python's
runner sets up). pactman and Ruby read pacts up to V3, so they get the same
interactions written as V3. What each sent is compared, in order, with what
it is known to send.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from flask import Flask
from outside_helpers import (
    ROOT,
    VERIFIERS,
    Provider,
    Recorder,
    expected_transcript,
    transcript,
)
from serving_helpers import served

from flask_pact_states import PactStates

pytestmark = pytest.mark.e2e

EXAMPLE: Final = ROOT / "examples" / "flask_users"
PACT: Final = EXAMPLE / "pacts" / "UserServiceClient-UserService.json"
if str(EXAMPLE) not in sys.path:  # as the example's own conftest does
    sys.path.insert(0, str(EXAMPLE))

# Imported by name at run time: mypy checks the example in a run of its own.
_example_states = importlib.import_module("provider_tests.states")
create_test_app: Callable[[], Flask] = _example_states.create_test_app
states: PactStates = _example_states.states

#: What the app answered each interaction's request (Rust-based verifiers
#: put the state's answer, user 7, into the first one's path).
REQUESTS: Final = [
    "GET /users/7 200",
    "GET /users/123 404",
    "GET /users/123 200",
    "POST /users 201",
    "DELETE /users/124 204",
]


@pytest.fixture
def example() -> Iterator[Provider]:
    app = create_test_app()
    recorder = Recorder(app.wsgi_app)
    app.wsgi_app = recorder  # type: ignore[method-assign]
    with served(app) as port:
        yield Provider(f"http://127.0.0.1:{port}", recorder, "UserService")
    states.reset(app)  # pactman and Ruby never tear down


def _as_v3(interaction: dict[str, Any]) -> dict[str, Any]:
    """A V4 HTTP interaction as V3: bare bodies, headers as strings."""
    v3 = {k: v for k, v in interaction.items() if k not in ("type", "pending", "key")}
    for part in ("request", "response"):
        message = v3[part] = dict(v3[part])
        if "body" in message:
            message["body"] = message["body"]["content"]
        if "headers" in message:
            headers = message["headers"].items()
            message["headers"] = {k: ", ".join(v) for k, v in headers}
    return v3


def http_pact(directory: Path, *, v3: bool) -> tuple[Path, list[dict[str, Any]]]:
    """The example's pact with its HTTP interactions only (V3 when asked)."""
    document = json.loads(PACT.read_text(encoding="utf-8"))
    interactions = [
        i for i in document["interactions"] if i["type"] == "Synchronous/HTTP"
    ]
    if v3:
        interactions = [_as_v3(i) for i in interactions]
        document["metadata"] = {"pactSpecification": {"version": "3.0.0"}}
    document["interactions"] = interactions
    path = directory / "example.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path, interactions


@pytest.mark.parametrize("name", VERIFIERS)
def test_outside_verifier_on_the_example_sends_what_it_is_known_to(
    name: str, example: Provider, tmp_path: Path
) -> None:
    run, family = VERIFIERS[name]
    pact, interactions = http_pact(tmp_path, v3=family in ("pactman", "ruby"))

    verdict = run(example, pact)

    requests = list(REQUESTS)
    if family in ("pactman", "ruby"):
        # They ignore the state's answer (no provider-state injected values):
        # the pact's own example id goes out, and that user does not exist.
        requests[0] = "GET /users/42 404"
    assert transcript(example.recorder.calls) == expected_transcript(
        interactions, family, requests
    )
    assert (verdict.status == 0) is (requests == REQUESTS), verdict.output
