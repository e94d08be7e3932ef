"""Hostile files where pacts are read: FIFOs, endless devices, huge, deeply
nested or non-UTF-8 files are refused in one sentence (issue 15, items 6 and
8, and the non-UTF-8 note)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from verify_helpers import hand_pact, http_interaction

from flask_pact_states import PactSourceError
from flask_pact_states.cli import check_states_command, pact_verify_command
from flask_pact_states.runner import files
from flask_pact_states.runner.pacts import load_pacts


def _load_within(seconds: float, *sources: Path) -> BaseException | None:
    """load_pacts in a thread: a hang fails the test instead of hanging it."""
    raised: list[BaseException] = []

    def load() -> None:
        try:
            load_pacts(*sources)
        except BaseException as error:  # checked by the caller
            raised.append(error)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(timeout=seconds)
    assert not thread.is_alive(), "load_pacts hangs"
    return raised[0] if raised else None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_load_pacts_refuses_a_fifo_named_like_a_pact(tmp_path: Path) -> None:
    hand_pact(tmp_path / "a.json", [http_interaction("ping")])
    os.mkfifo(tmp_path / "b.json")

    error = _load_within(10, tmp_path)

    assert isinstance(error, PactSourceError)
    assert "b.json' is not a regular file" in str(error)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_load_pacts_refuses_a_link_to_an_endless_device(tmp_path: Path) -> None:
    (tmp_path / "zero.json").symlink_to("/dev/zero")

    error = _load_within(10, tmp_path)

    assert isinstance(error, PactSourceError)
    assert "is not a regular file" in str(error)


def test_load_pacts_refuses_a_file_over_the_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pact = hand_pact(tmp_path / "a.json", [http_interaction("ping")])
    monkeypatch.setattr(files, "MAX_PACT_BYTES", 2**20)
    pact.write_text(pact.read_text() + " " * 2**20)

    with pytest.raises(PactSourceError, match="larger than 1 MiB, the limit"):
        load_pacts(pact)


def test_load_pacts_says_a_file_is_not_utf_8(tmp_path: Path) -> None:
    pact = hand_pact(tmp_path / "a.json", [http_interaction("caf\u00e9")])
    pact.write_bytes(pact.read_text().replace("\\u00e9", "\u00e9").encode("latin-1"))

    with pytest.raises(PactSourceError, match="is not UTF-8 text") as caught:
        load_pacts(pact)
    assert "permissions" not in str(caught.value)


@pytest.mark.parametrize("command", [pact_verify_command, check_states_command])
def test_cli_refuses_a_deeply_nested_pact_as_invalid(
    tmp_path: Path, runner: FlaskCliRunner, command: object
) -> None:
    pact = tmp_path / "deep.json"
    pact.write_text("[" * 100_000 + "]" * 100_000)

    result = runner.invoke(command, [str(pact)])

    assert result.exit_code == 2, result.output
    assert "nested too deeply" in result.output
    assert "Traceback" not in result.output
    assert "RecursionError" not in result.output
