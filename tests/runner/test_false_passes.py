"""Never a false pass: a run is green only when every planned interaction was
verified (issue 15, items 1 and 3; issue 14, defect 1). The real verifier
throughout."""

from __future__ import annotations

import json
import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from pact import Verifier
from verify_helpers import hand_pact, http_interaction, make_app

from flask_pact_states import PactSourceError, PactStates
from flask_pact_states.runner import execution
from flask_pact_states.runner.api import verify
from flask_pact_states.runner.streams import StderrTail


def test_verify_refuses_a_pact_that_needs_a_plugin(
    tmp_path: Path, states: PactStates
) -> None:
    """The verifier fails to load the plugin and reports success with nothing
    verified: such a pact is refused before any run."""
    hand_pact(tmp_path / "a.json", [http_interaction("ping")], consumer="Other")
    plugin = hand_pact(tmp_path / "b.json", [http_interaction("ping")], version="4.0")
    document = json.loads(plugin.read_text())
    document["metadata"]["plugins"] = [{"name": "protobuf", "version": "0.3.0"}]
    plugin.write_text(json.dumps(document))

    with pytest.raises(PactSourceError, match=r"needs the Pact plugin.*'protobuf'"):
        verify(make_app(states), tmp_path)


def test_verify_fails_when_the_verifier_leaves_out_a_planned_interaction(
    tmp_path: Path, states: PactStates, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the reason the verifier verifies fewer interactions than
    planned (here a filter the plan does not know), the run fails and names
    what was not verified."""
    pact = hand_pact(
        tmp_path / "web.json", [http_interaction("first"), http_interaction("second")]
    )
    configure = execution._configure

    def leaves_one_out(verifier: Verifier, *args: Any) -> None:
        configure(verifier, *args)
        verifier.filter("^first$")

    monkeypatch.setattr(execution, "_configure", leaves_one_out)

    result = verify(make_app(states), pact)

    assert [i.status for i in result.interactions] == ["passed"]
    assert not result.passed
    [error] = result.errors
    assert "verified 1 of the 2 planned interaction(s): 'second'" in error


def test_verify_reports_a_verifier_that_fails_to_run(
    tmp_path: Path, states: PactStates
) -> None:
    """A response status that is a string makes the Rust core panic: the run
    fails saying so, even beside a pact that passes (it used to pass)."""
    hand_pact(tmp_path / "a.json", [http_interaction("ping")], consumer="Good")
    hand_pact(tmp_path / "b.json", [http_interaction("odd", status="200")])  # type: ignore[arg-type]

    result = verify(make_app(states), tmp_path)

    assert not result.passed
    assert [i.status for i in result.interactions] == ["passed"]
    [failed] = [e for e in result.errors if "the verifier failed to run" in e]
    assert "its Rust core panicked at" in failed  # its stderr, in the report
    assert "on a `None` value" in failed
    assert "No interaction was verified" not in result.report()


def test_verify_reports_what_ran_when_a_description_holds_a_nul(
    tmp_path: Path, states: PactStates
) -> None:
    """The Rust core panics writing its report for a NUL in a description:
    the result still says what ran, and its JUnit is valid XML."""
    pact = hand_pact(tmp_path / "web.json", [http_interaction("pi\x00ng\x1b")])

    result = verify(make_app(states), pact)

    assert [i.description for i in result.interactions] == ["pi\x00ng\x1b"]
    assert result.passed, result.report()
    assert "Verifying a pact between Web and Users" in result.output
    case = ET.fromstring(result.to_junit()).find("testsuite/testcase")
    assert case is not None
    assert case.get("name") == "pi\\x00ng\\x1b"
    assert json.loads(result.to_json())["interactions"][0]["description"] == (
        "pi\x00ng\x1b"
    )


def test_stderr_tail_reads_what_reached_stderr_and_passes_it_on(
    capfd: pytest.CaptureFixture[str],
) -> None:
    os.write(2, b"before\n")
    with StderrTail.captured() as stderr:
        os.write(2, b"thread 'x' panicked at src/a.rs:1:2:\nboom\n")
        text = stderr()

    assert text == "thread 'x' panicked at src/a.rs:1:2:\nboom\n"
    time.sleep(0.1)  # the copy thread passes it on
    assert "boom" in capfd.readouterr().err
