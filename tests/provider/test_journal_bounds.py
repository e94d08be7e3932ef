"""What the journal keeps per record is bounded (issue 15, item 14)."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from flask_pact_states import PactStates
from flask_pact_states.provider.state import get_app_states

URL = "/_pact/provider_states"
#: What a record keeps of each big value (journal.MAX_KEPT).
MAX_KEPT = 64 * 1024


def test_journal_keeps_little_of_huge_results_and_errors(
    app: Flask, client: FlaskClient, states: PactStates
) -> None:
    @states.register("huge")
    def huge() -> dict[str, Any]:
        return {"blob": "x" * 2_000_000}

    @states.register("huge error")
    def huge_error() -> None:
        raise ValueError("y" * 2_000_000)

    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(15):
            for state in ("huge", "huge error"):
                answer = client.post(URL, json={"state": state, "params": {}})
                if state == "huge":  # the verifier still gets it whole
                    assert len(answer.get_json()["blob"]) == 2_000_000
                del answer
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    records = list(get_app_states(app).journal)
    assert len(records) == 30
    for record in records:
        assert len(str(record.result)) <= MAX_KEPT
        assert len(record.error_message or "") <= MAX_KEPT + 100
        assert len(record.traceback or "") <= MAX_KEPT + 100
    assert held < 20_000_000, f"{held} bytes held after 30 huge records"
