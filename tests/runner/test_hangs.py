"""Never a hang: a handler that hangs fails the run, named with where it
hangs, and the run ends in bounded time (issue 15, item 4). The real verifier."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from verify_helpers import hand_pact, http_interaction, make_app

from flask_pact_states import PactStates, active_patch_count, mock_db
from flask_pact_states.runner.api import verify
from flask_pact_states.runner.results import VerificationResult


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_verify_ends_and_names_a_hung_handler(
    tmp_path: Path, states: PactStates, kind: str
) -> None:
    release = threading.Event()

    if kind == "sync":

        @states.register("a stuck database")
        def stuck_database() -> None:
            mock_db("verify_helpers.USERS", {})
            release.wait()

    else:

        @states.register("a stuck database")
        async def stuck_database() -> None:  # type: ignore[misc]
            mock_db("verify_helpers.USERS", {})
            while not release.is_set():
                await asyncio.sleep(0.01)

    interactions = [
        http_interaction("stuck", states=["a stuck database"]),
        http_interaction("ping"),
    ]
    pact = hand_pact(tmp_path / "web.json", interactions)
    app = make_app(states, PACT_STATES_LOCK_TIMEOUT=0.5)
    results: list[VerificationResult] = []
    runner = threading.Thread(
        target=lambda: results.append(verify(app, pact, request_timeout=1)),
        daemon=True,
    )
    started = time.monotonic()
    runner.start()
    runner.join(timeout=60)
    hung = runner.is_alive()
    release.set()  # lets the handler (and a hung run) end
    runner.join(timeout=10)

    assert not hung, "verify() hangs on a hung handler"
    assert time.monotonic() - started < 30
    [result] = results
    assert not result.passed
    [error] = [e for e in result.errors if "still running" in e]
    assert "stuck_database()" in error
    assert "setup of state 'a stuck database'" in error
    assert ("release.wait()" if kind == "sync" else "asyncio.sleep") in error
    time.sleep(0.2)  # the released handler's patch is undone as it returns
    assert active_patch_count() == 0
