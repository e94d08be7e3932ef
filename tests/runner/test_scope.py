"""What a run may touch: the token stays on state calls, one run at a time
per app (issue 15, items 12 and 13). The real verifier."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask import request
from verify_helpers import hand_pact, http_interaction, make_app

from flask_pact_states import PactStates, VerificationSetupError
from flask_pact_states.runner.api import verify
from flask_pact_states.runner.results import VerificationResult


@pytest.mark.parametrize("direct", [True, False])
def test_verify_keeps_the_token_off_the_app_s_requests(
    tmp_path: Path, states: PactStates, direct: bool
) -> None:
    @states.register("a user exists")
    def user() -> None: ...

    app = make_app(states, PACT_STATES_TOKEN="s3cret")
    seen: dict[str, str | None] = {}

    @app.before_request
    def note_token() -> None:
        seen[request.path] = request.headers.get("X-Pact-States-Token")

    pact = hand_pact(
        tmp_path / "p.json", [http_interaction("get", states=["a user exists"])]
    )

    result = verify(app, pact, direct_state_calls=direct)

    assert result.passed, result.report()
    assert seen["/ping"] is None
    if not direct:
        assert seen[app.config["PACT_STATES_URL"]] == "s3cret"


def test_verify_refuses_a_second_run_on_the_same_app(
    tmp_path: Path, states: PactStates
) -> None:
    entered, release = threading.Event(), threading.Event()

    @states.register("a slow state")
    def slow() -> None:
        entered.set()
        release.wait(timeout=30)

    app = make_app(states)
    pact = hand_pact(
        tmp_path / "p.json", [http_interaction("slow", states=["a slow state"])]
    )
    results: list[VerificationResult] = []
    first = threading.Thread(target=lambda: results.append(verify(app, pact)))
    first.start()
    try:
        assert entered.wait(timeout=30)
        with pytest.raises(VerificationSetupError, match="already running on the app"):
            verify(app, pact)
    finally:
        release.set()
        first.join(timeout=60)

    assert results[0].passed, results[0].report()
    assert verify(app, pact).passed  # free again once the first returned
