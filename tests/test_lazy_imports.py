"""The package and its pytest plugin import Flask, pact-python and the
server only when used: pytest loads the plugin in every session of a project
that has the package installed, and pytest-xdist's controller verifies
nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from items_helpers import SHOP, USERS_PACT
from items_helpers import write_pact as _write_pact

import flask_pact_states

pytest_plugins = ["pytester"]

#: Modules only a verification (or the app) needs.
HEAVY = (
    "flask",
    "werkzeug",
    "waitress",
    "pact_ffi",
    "unittest.mock",
    "flask_pact_states.provider",
    "flask_pact_states.runner.api",
    "flask_pact_states.runner.chunks",
)

#: Writes, at the session's end, which heavy modules the process had loaded.
_RECORDER = f"""
import json, os, sys
from pathlib import Path

HEAVY = {HEAVY!r}


def pytest_sessionfinish(session):
    worker = getattr(session.config, "workerinput", {{}}).get("workerid", "main")
    loaded = sorted(name for name in HEAVY if name in sys.modules)
    Path(f"loaded-{{worker}}.json").write_text(json.dumps(loaded))
"""


def _loaded(root: Path) -> dict[str, list[str]]:
    return {
        path.stem.removeprefix("loaded-"): json.loads(path.read_text())
        for path in root.glob("loaded-*.json")
    }


def test_importing_the_package_imports_nothing_heavy() -> None:
    code = (
        "import sys, flask_pact_states, flask_pact_states.pytest_plugin;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert done.stdout.strip() == "[]"


def test_the_flask_commands_import_no_verifier() -> None:
    """Flask loads the commands for every ``flask`` command of the project
    (``flask run``, ``flask shell``...): they import the runner on use."""
    code = (
        "import sys, flask_pact_states.cli;"
        f"print([m for m in {HEAVY!r} if m in sys.modules and m != 'flask'"
        " and not m.startswith('werkzeug')])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert done.stdout.strip() == "[]"


def test_every_public_name_resolves_and_is_listed() -> None:
    for name in flask_pact_states.__all__:
        assert getattr(flask_pact_states, name) is not None
        assert name in dir(flask_pact_states)
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        _ = flask_pact_states.nothing_here  # type: ignore[attr-defined]
    # The modules, as with eager imports: flask_pact_states.errors.X works.
    assert flask_pact_states.errors.PactStatesError is flask_pact_states.PactStatesError


def test_type_checkers_still_flag_misspelt_names(tmp_path: Path) -> None:
    use = tmp_path / "use.py"
    use.write_text("from flask_pact_states import verfy\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", str(use)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert 'Module "flask_pact_states" has no attribute "verfy"' in done.stdout


def test_a_session_without_items_loads_nothing_heavy(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(_RECORDER)
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    assert _loaded(pytester.path) == {"main": []}


def test_the_xdist_controller_loads_nothing_heavy(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACT_DO_NOT_TRACK", "true")
    pytester.makepyfile(shop=SHOP)
    pytester.makeconftest(_RECORDER)
    _write_pact(pytester.path / "pacts" / "Web-Shop.json", USERS_PACT)

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--pact-app", "shop:create_test_app",
        "--pact-source", "pacts", "-n", "2",
    )  # fmt: skip

    result.assert_outcomes(passed=4)
    loaded = _loaded(pytester.path)
    assert loaded["main"] == []
    # The workers verified: they did load what verifying needs.
    assert set(loaded) == {"main", "gw0", "gw1"}
    assert any("flask" in loaded[worker] for worker in ("gw0", "gw1"))
