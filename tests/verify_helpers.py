"""Helpers for the runner's tests: real pacts written by pact-python's consumer
API, hand-written pact documents, and a provider app to verify.

Imported by ``test_sources``, ``test_verify`` and ``test_cli`` after putting
this directory on ``sys.path`` (``--import-mode=importlib`` keeps it off).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from flask_pact_states import PactStates

#: A module global that state handlers replace with ``mock_db``.
USERS: dict[int, str] = {1: "real Ann"}


@dataclass(frozen=True)
class Call:
    """One interaction: what the consumer sends and expects back."""

    description: str
    path: str
    states: Sequence[tuple[str, Mapping[str, Any]]] = ()
    status: int = 200
    body: Any = None
    method: str = "GET"
    #: A matcher standing for the path in the pact (e.g. with a generator).
    path_matcher: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


def record_pact(
    directory: Path, consumer: str, provider: str, calls: Sequence[Call]
) -> Path:
    """Write a V4 pact with pact-python, exercising every call on its mock server.

    :returns: the pact file's path.
    """
    from pact import Pact

    pact = Pact(consumer, provider).with_specification("V4")
    for call in calls:
        interaction = pact.upon_receiving(call.description)
        for name, params in call.states:
            interaction.given(name, dict(params) or None)
        interaction.with_request(call.method, call.path_matcher or call.path)
        interaction.will_respond_with(call.status)
        for name, value in call.headers.items():
            interaction.with_header(name, value)
        if call.body is not None:
            interaction.with_body(call.body, content_type="application/json")
    with pact.serve() as server:
        for call in calls:
            _exercise(f"{server.url}{call.path}", call.method)
    pact.write_file(directory, overwrite=True)
    return directory / f"{consumer}-{provider}.json"


def _exercise(url: str, method: str) -> None:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except urllib.error.HTTPError as error:  # an expected 4xx/5xx
        error.read()
        error.close()


def hand_pact(
    path: Path,
    interactions: Sequence[Mapping[str, Any]],
    consumer: str = "Web",
    provider: str = "Users",
    version: str = "3.0.0",
) -> Path:
    """Write a pact document by hand (for formats and error cases)."""
    document = {
        "consumer": {"name": consumer},
        "provider": {"name": provider},
        "interactions": list(interactions),
        "metadata": {"pactSpecification": {"version": version}},
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def http_interaction(
    description: str,
    path: str = "/ping",
    states: Sequence[str] = (),
    status: int = 200,
    **extra: Any,
) -> dict[str, Any]:
    """A V3 request-response interaction as a dict."""
    return {
        "description": description,
        "providerStates": [{"name": name} for name in states],
        "request": {"method": "GET", "path": path},
        "response": {"status": status},
        **extra,
    }


def make_app(states: PactStates, **config: Any) -> Flask:
    """A testing app with ``states`` mounted, ``/ping`` and ``/users/<id>``."""
    app = Flask("verified_provider")
    app.testing = True
    app.config.update(config)
    states.init_app(app)

    @app.get("/ping")
    def ping() -> dict[str, bool]:
        return {"pong": True}

    @app.get("/users/<int:user_id>")
    def user(user_id: int) -> tuple[dict[str, Any], int]:
        name = USERS.get(user_id)
        if name is None:
            return {"error": "not found"}, 404
        return {"id": user_id, "name": name}, 200

    return app


def publish(topic: str, payload: Any) -> None:
    """The app's publisher seam: sends for real, so tests capture it."""
    raise RuntimeError(f"publish({topic!r}) would reach a real broker")


def create_order(order_id: int, item: str, *, notify: int = 1) -> None:
    """A service function that publishes ``notify`` order created events."""
    for _ in range(notify):
        publish("orders", {"id": order_id, "item": item})


def message_interaction(
    description: str,
    content: Any,
    states: Sequence[tuple[str, Mapping[str, Any]]] = (),
    content_type: str = "application/json",
    metadata: Mapping[str, Any] | None = None,
    encoded: str | bool = False,
) -> dict[str, Any]:
    """A V4 asynchronous message interaction as a dict."""
    return {
        "type": "Asynchronous/Messages",
        "description": description,
        "providerStates": [
            {"name": name, "params": dict(params)} for name, params in states
        ],
        "contents": {
            "content": content,
            "contentType": content_type,
            "encoded": encoded,
        },
        "metadata": {"contentType": content_type, **(metadata or {})},
    }
