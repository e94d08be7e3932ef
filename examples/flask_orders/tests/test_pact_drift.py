"""Fail when the committed pact no longer matches what the consumer produces.

The provider is verified against the committed file, so a consumer change that
nobody regenerated would otherwise go unnoticed until the provider team's run.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest
from orders_consumer.pact_builder import PACT_DIR, PACT_FILE_NAME, write_pact_file
from orders_consumer.write_pact import main

FIX = "Run `make -C examples/flask_orders pact` and commit the result."


def _normalised(pact: dict[str, Any]) -> dict[str, Any]:
    """Drop the tool version stamps, which change with every pact-python release.

    ``pactSpecification`` stays: a change of specification is a real change.
    """
    metadata = {
        key: value
        for key, value in pact.get("metadata", {}).items()
        if not key.startswith("pact") or key == "pactSpecification"
    }
    return {**pact, "metadata": metadata}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _dump(pact: dict[str, Any]) -> list[str]:
    return json.dumps(pact, indent=2, sort_keys=True).splitlines()


def test_committed_pact_matches_consumer(tmp_path: Path) -> None:
    fresh_path = write_pact_file(tmp_path)
    committed_path = PACT_DIR / fresh_path.name

    committed_names = sorted(path.name for path in PACT_DIR.glob("*.json"))
    assert committed_names == [fresh_path.name], (
        f"{PACT_DIR} should hold exactly {fresh_path.name}, found"
        f" {committed_names}. {FIX}"
    )
    fresh = _normalised(_load(fresh_path))
    committed = _normalised(_load(committed_path))
    if fresh != committed:
        diff = "\n".join(
            difflib.unified_diff(
                _dump(committed),
                _dump(fresh),
                fromfile=f"committed {committed_path}",
                tofile="generated now",
                lineterm="",
            )
        )
        pytest.fail(
            f"The committed pact {committed_path} has drifted from the consumer"
            f" tests. {FIX}\n{diff}",
            pytrace=False,
        )


def test_normalised_ignores_only_tool_versions() -> None:
    pact = {
        "interactions": [],
        "metadata": {
            "pactRust": {"ffi": "0.5.12"},
            "pactPython": {"version": "4.2.0"},
            "pactSpecification": {"version": "4.0"},
        },
    }

    assert _normalised(pact) == {
        "interactions": [],
        "metadata": {"pactSpecification": {"version": "4.0"}},
    }


def test_write_pact_main_writes_into_given_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "new" / "pacts"

    assert main([str(target)]) == 0

    assert (target / PACT_FILE_NAME).is_file()
    assert str(target / PACT_FILE_NAME) in capsys.readouterr().out


def test_write_pact_main_defaults_to_environment(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PACT_OUTPUT_DIR", str(tmp_path))

    assert main([]) == 0

    assert (tmp_path / PACT_FILE_NAME).is_file()
    capsys.readouterr()
