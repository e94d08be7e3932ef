"""Provider verification of the users service through pytest.

The same run as ``flask --app provider_tests.states:create_test_app pact-verify
pacts``: the real Pact verifier replays the committed pact against the app.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from provider_tests.states import ASSIGNED_ID, create_test_app
from users_provider import db

from flask_pact_states import active_patch_count
from flask_pact_states.runner.api import verify

PACTS = Path(__file__).resolve().parents[1] / "pacts"


@pytest.mark.e2e
def test_provider_honours_the_consumer_pact() -> None:
    original = db.FAKE_DB

    result = verify(create_test_app(), PACTS)

    assert result.passed, result.report()
    assert len(result.interactions) == 6  # five requests and an event
    assert result.missing_states == []
    # Everything the states patched is back.
    assert db.FAKE_DB is original
    assert active_patch_count() == 0


@pytest.mark.e2e
def test_provider_state_injects_the_assigned_id() -> None:
    app = create_test_app()

    result = verify(app, PACTS, description="a request for a user by generated id")

    assert result.passed, result.report()
    journal = app.extensions["pact_states"].journal
    assert [record.result for record in journal if record.action == "setup"] == [
        {"user_id": ASSIGNED_ID}
    ]
