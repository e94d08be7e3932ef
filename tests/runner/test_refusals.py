"""Refused state calls keep their reason: each refusal (413, 401, 403) is
attributed to its interaction with status and reason, and progress counts
interactions, not refused calls (issue 15, item 7; issue 14, defect 4). The
real verifier, with the state calls through the app."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from verify_helpers import hand_pact, http_interaction, make_app

from flask_pact_states import PactStates
from flask_pact_states.runner.api import verify

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def _rewriting(
    app: WSGIApplication, change: Callable[[WSGIEnvironment], None]
) -> WSGIApplication:
    def middleware(
        environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        change(environ)
        return app(environ, start_response)

    return middleware


def test_verify_attributes_a_413_to_its_interaction(
    tmp_path: Path, states: PactStates
) -> None:
    @states.register("a big state")
    def big_state(blob: str) -> None: ...

    big = http_interaction("big", states=["a big state"])
    big["providerStates"][0]["params"] = {"blob": "x" * 500}
    pact = hand_pact(tmp_path / "web.json", [http_interaction("ping"), big])
    app = make_app(states, PACT_STATES_MAX_BODY=200)

    result = verify(app, pact, direct_state_calls=False)

    assert [i.status for i in result.interactions] == ["passed", "failed"]
    reason = result.interactions[1].reason
    assert "refused with 413" in reason
    assert "PACT_STATES_MAX_BODY" in reason


@pytest.mark.parametrize(
    ("change", "status", "why"),
    [
        (lambda env: env.pop("HTTP_X_PACT_STATES_TOKEN", None), 401, "header"),
        (lambda env: env.update(REMOTE_ADDR="10.1.2.3"), 403, "loopback"),
    ],
)
def test_verify_attributes_refusals_to_each_interaction(
    tmp_path: Path,
    states: PactStates,
    change: Callable[[WSGIEnvironment], None],
    status: int,
    why: str,
) -> None:
    @states.register("a", "b", "c")
    def any_state() -> None: ...

    interactions = [
        http_interaction("two states", states=["a", "b"]),
        http_interaction("one state", states=["c"]),
        http_interaction("no state"),
    ]
    pact = hand_pact(tmp_path / "web.json", interactions)
    app = make_app(states, PACT_STATES_TOKEN="s3cret")
    app.wsgi_app = _rewriting(app.wsgi_app, change)  # type: ignore[method-assign, assignment]
    progress: list[tuple[int, int | None]] = []

    result = verify(
        app,
        pact,
        direct_state_calls=False,
        progress=lambda started, expected: progress.append((started, expected)),
    )

    assert [i.status for i in result.interactions] == ["failed"] * 3
    for interaction in result.interactions:
        assert f"refused with {status}" in interaction.reason, interaction.reason
        assert why in interaction.reason
    assert progress[-1] == (3, 3)
    assert all(started <= 3 for started, _ in progress), progress


def test_verify_says_when_the_app_refused_a_state_call_before_the_extension(
    tmp_path: Path, states: PactStates
) -> None:
    """An auth hook answering 401 to the state calls sent through the app
    (issue 16, item 5): the report says the app refused it, with its body,
    and Coverage does not count the handler as used."""
    from flask import request

    @states.register("a user exists")
    def user_exists() -> None: ...

    pact = hand_pact(
        tmp_path / "web.json", [http_interaction("ping", states=["a user exists"])]
    )
    app = make_app(states)

    @app.before_request
    def auth() -> tuple[dict[str, str], int] | None:
        if request.path.startswith("/_pact"):
            return {"error": "login required"}, 401
        return None

    result = verify(app, pact, direct_state_calls=False)

    (interaction,) = result.interactions
    assert interaction.status == "failed"
    assert "refused with 401: the app answered before the extension" in (
        interaction.reason
    )
    assert "login required" in interaction.reason
    assert "Every state has a handler, and every handler was used" not in (
        result.report()
    )
