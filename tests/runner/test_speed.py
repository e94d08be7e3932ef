"""The runner's speed-ups change no outcome: the same interactions pass and
fail for the same reasons (handler tracebacks, missing states, mismatches,
provider-state injected values) with each speed-up on and off. No timing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from verify_helpers import hand_pact, http_interaction

from flask_pact_states import active_patch_count
from flask_pact_states.runner.api import verify
from flask_pact_states.runner.process import CERTIFICATE, minimal_trust_store
from flask_pact_states.runner.results import VerificationResult

#: Every speed-up off: the reference the others must match.
_PLAIN: dict[str, Any] = {
    "minimal_trust_store": False,
    "direct_state_calls": False,
    "chunk_size": 0,
    "jobs": 1,
}
#: ``direct_state_calls`` also sends the state calls to the state door.
_SPEED_UPS: list[dict[str, Any]] = [
    {"minimal_trust_store": True},
    {"direct_state_calls": True},
    {"chunk_size": 4},
    {"chunk_size": 1},
    {"minimal_trust_store": True, "direct_state_calls": True, "chunk_size": 7},
    {"chunk_size": 4, "jobs": 2},
    {"direct_state_calls": True, "chunk_size": 2, "jobs": "auto"},
]


#: The provider's module, written out so that spawned workers can import it.
_APP_MODULE = """
import gc
import multiprocessing
import os

from flask_pact_states import PactStates, mock_db
from verify_helpers import make_app

states = PactStates()


@states.register("user {user_id:int} exists")
def user_exists(user_id):
    mock_db("verify_helpers.USERS", {user_id: f"user {user_id}"})


@states.register("database is down")
def database_down():
    raise ConnectionError("database is on fire")


@states.register("the startup objects are frozen")
def startup_objects_frozen():
    # In either process: verify() freezes them for the run, a worker for life.
    if not gc.get_freeze_count():
        raise AssertionError("the collector still goes over the startup objects")


@states.register("a user with a server-side id")
def assigned():
    mock_db("verify_helpers.USERS", {7: "user 7"})
    return {"user_id": 7}


def create_app():
    return make_app(states)


def create_crashing_app():
    crashing = PactStates()

    @crashing.register("the worker dies")
    def the_worker_dies():
        # Only a spawned worker: the parent takes runs too (--jobs N is the
        # parent and N - 1 workers), and its dying would end the test run.
        if multiprocessing.parent_process() is not None:
            os._exit(3)

    return make_app(crashing)


def create_parent_only_app():
    if multiprocessing.parent_process() is not None:
        raise RuntimeError("the test database is not configured")
    return make_app(states)
"""


@pytest.fixture(scope="module")
def speed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The import string of the provider app (importable by workers too).

    One file for the module: tracebacks name it, and must match across runs.
    """
    directory = tmp_path_factory.mktemp("speed_app")
    (directory / "speed_app.py").write_text(_APP_MODULE, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patcher:
        # Spawned workers import both through the parent's sys.path.
        here = os.path.dirname(os.path.dirname(__file__))  # tests/
        patcher.setattr(sys, "path", [str(directory), here, *sys.path])
        yield "speed_app:create_app"
        sys.modules.pop("speed_app", None)


def _interactions(count: int) -> list[dict[str, Any]]:
    """Passing, mismatching, raising, missing and injected-value interactions."""
    entries = []
    for n in range(count):
        kind = n % 5
        name = f"{n:03} {('ok', 'mismatch', 'raises', 'missing', 'injected')[kind]}"
        if kind in (0, 1):
            body = {"id": n, "name": f"user {n}" if kind == 0 else "somebody else"}
            entry = http_interaction(name, f"/users/{n}", [f"user {n} exists"])
            entry["response"]["body"] = body
        elif kind == 2:
            entry = http_interaction(name, states=["database is down"])
        elif kind == 3:
            entry = http_interaction(name, states=[f"nobody knows state {n}"])
        else:
            entry = _injected(name)
        entries.append(entry)
    # Out of description order: the verifier runs a pact in file order,
    # which chunks and schedules must follow.
    return entries[1::2] + entries[::2]


def _injected(description: str) -> dict[str, Any]:
    entry = http_interaction(description, "/users/42", ["a user with a server-side id"])
    entry["request"]["generators"] = {
        "path": {"type": "ProviderState", "expression": "/users/${user_id}"}
    }
    entry["response"]["body"] = {"id": 7, "name": "user 7"}
    return entry


def _comparable(result: VerificationResult) -> dict[str, Any]:
    """What must match between runs: outcomes, reasons and every rendering."""
    document = json.loads(result.to_json())
    for entry in document.get("interactions", []):
        entry.pop("duration", None)
    junit = re.sub(r' time="[^"]*"', "", result.to_junit())
    return {
        "outcomes": [
            (i.consumer, i.description, i.states, i.status, i.reason)
            for i in result.interactions
        ],
        "report": result.report(),
        "json": document,
        "junit": junit,
        "passed": result.passed,
    }


def _verify(tmp_path: Path, app: str, count: int, **options: Any) -> VerificationResult:
    from flask_pact_states.runner.parallel import load_app

    pact = hand_pact(tmp_path / f"pact-{count}.json", _interactions(count))
    return verify(load_app(app), pact, app_factory=app, **options)


@pytest.mark.parametrize("speed_up", _SPEED_UPS, ids=lambda o: ",".join(o))
def test_speed_ups_keep_every_outcome(
    tmp_path: Path, speed_app: str, speed_up: dict[str, Any]
) -> None:
    plain = _verify(tmp_path, speed_app, 15, **_PLAIN)
    fast = _verify(tmp_path, speed_app, 15, **speed_up)

    assert _comparable(fast) == _comparable(plain)
    statuses = [i.status for i in plain.interactions]
    assert statuses.count("passed") == 6  # ok and injected
    assert statuses.count("failed") == 9
    assert "ConnectionError: database is on fire" in plain.report()
    assert 'raise ConnectionError("database is on fire")' in plain.report()
    assert active_patch_count() == 0
    ET.fromstring(fast.to_junit())


def test_minimal_trust_store_sets_and_restores_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/somewhere/ca.pem")
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    with minimal_trust_store(), minimal_trust_store():
        assert os.environ["SSL_CERT_FILE"] == str(CERTIFICATE)
        directory = Path(os.environ["SSL_CERT_DIR"])
        assert directory.is_dir()
        assert not list(directory.iterdir())
    with minimal_trust_store(enabled=False):
        assert os.environ["SSL_CERT_FILE"] == "/somewhere/ca.pem"

    assert os.environ["SSL_CERT_FILE"] == "/somewhere/ca.pem"
    assert "SSL_CERT_DIR" not in os.environ
    assert not directory.exists()


def test_minimal_trust_store_ships_one_public_certificate() -> None:
    text = CERTIFICATE.read_text(encoding="ascii")

    assert text.count("BEGIN CERTIFICATE") == 1
    assert "PRIVATE KEY" not in text


def _run_cli(
    *arguments: str, app: str = "speed_app:create_app"
) -> subprocess.CompletedProcess[str]:
    """Run ``flask --app APP pact-verify ARGUMENTS`` as a real process."""
    env = {
        **os.environ,
        "PACT_DO_NOT_TRACK": "true",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", app, "pact-verify", *arguments],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


def _cli(directory: Path, pact: Path, name: str, *options: str) -> tuple[int, str, str]:
    """Run ``flask pact-verify`` as a real process; exit code, stdout, JSON."""
    json_file = directory / f"{name}.json"
    done = _run_cli(str(pact), "--json", str(json_file), *options)
    document = json.loads(json_file.read_text(encoding="utf-8"))
    for entry in document.get("interactions", []):
        entry.pop("duration", None)
    return done.returncode, done.stdout, json.dumps(document)


def test_cli_jobs_and_chunks_print_the_same_report(
    tmp_path: Path, speed_app: str
) -> None:
    pact = hand_pact(tmp_path / "pact.json", _interactions(12))
    plain = (
        *("--jobs", "1", "--chunk-size", "0"),
        *("--system-trust-store", "--app-state-calls"),
    )

    expected = _cli(tmp_path, pact, "plain", *plain)
    fast = _cli(tmp_path, pact, "fast", "--jobs", "2", "--chunk-size", "3")

    assert fast == expected
    assert expected[0] == 1
    assert expected[1].splitlines()[-1] == "5 passed, 7 failed"


@pytest.mark.parametrize("jobs", ["0", "-1", "many"])
def test_cli_refuses_bad_jobs(tmp_path: Path, speed_app: str, jobs: str) -> None:
    from flask.testing import FlaskCliRunner

    from flask_pact_states.cli import pact_verify_command
    from flask_pact_states.runner.parallel import load_app

    pact = hand_pact(tmp_path / "pact.json", [http_interaction("ping")])
    runner = FlaskCliRunner(load_app(speed_app))

    outcome = runner.invoke(pact_verify_command, [str(pact), "--jobs", jobs])

    assert outcome.exit_code == 2
    assert "--jobs" in outcome.output


#: Two workers, one interaction per run: each worker gets runs.
_TWO_WORKERS = ("--jobs", "2", "--chunk-size", "1")


def test_cli_jobs_worker_dying_mid_run_is_an_error_not_a_usage_error(
    tmp_path: Path, speed_app: str
) -> None:
    dying = [
        http_interaction(f"{n} dies", states=["the worker dies"]) for n in range(4)
    ]
    pact = hand_pact(tmp_path / "pact.json", dying)

    done = _run_cli(str(pact), *_TWO_WORKERS, app="speed_app:create_crashing_app")

    assert done.returncode == 1
    assert "worker process died during the run" in done.stderr
    assert "could not start" not in done.stderr
    assert "Usage:" not in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_jobs_worker_that_cannot_build_the_app_is_a_usage_error(
    tmp_path: Path, speed_app: str
) -> None:
    pact = hand_pact(tmp_path / "pact.json", _interactions(4))

    done = _run_cli(str(pact), *_TWO_WORKERS, app="speed_app:create_parent_only_app")

    assert done.returncode == 2
    assert "could not start the app from 'speed_app:create_parent_only_app'" in (
        done.stderr
    )
    assert "died during the run" not in done.stderr


def test_verify_jobs_share_the_runs_between_this_process_and_a_worker(
    tmp_path: Path, speed_app: str
) -> None:
    from flask_pact_states.provider.state import get_app_states
    from flask_pact_states.runner.parallel import load_app

    pact = hand_pact(tmp_path / "pact.json", _interactions(10))
    app = load_app(speed_app)
    seen: list[tuple[int, int | None]] = []

    result = verify(
        app,
        pact,
        jobs=2,
        chunk_size=1,
        app_factory=speed_app,
        progress=lambda started, expected: seen.append((started, expected)),
    )

    here = {r.interaction for r in get_app_states(app).journal if r.action == "setup"}
    # The worker holds a run from the start; this process takes the others
    # while the worker starts up.
    assert 0 < len(here) < 10
    assert len(result.interactions) == 10
    assert seen[-1] == (10, 10)
    assert [started for started, _ in seen] == sorted(started for started, _ in seen)


def test_every_process_runs_with_the_startup_objects_frozen(
    tmp_path: Path, speed_app: str
) -> None:
    from flask_pact_states.provider.state import get_app_states
    from flask_pact_states.runner.parallel import load_app

    entries = [
        http_interaction(f"{n} frozen", states=["the startup objects are frozen"])
        for n in range(8)
    ]
    pact = hand_pact(tmp_path / "pact.json", entries)
    app = load_app(speed_app)

    result = verify(app, pact, jobs=2, chunk_size=1, app_factory=speed_app)

    assert result.passed, result.report()
    here = [r for r in get_app_states(app).journal if r.action == "setup"]
    assert 0 < len(here) < 8  # the worker ran some of them


def test_verify_jobs_need_an_app_factory(tmp_path: Path, speed_app: str) -> None:
    from flask_pact_states import VerificationSetupError
    from flask_pact_states.runner.parallel import load_app

    pact = hand_pact(tmp_path / "pact.json", _interactions(4))

    with pytest.raises(VerificationSetupError, match="needs app_factory"):
        verify(load_app(speed_app), pact, jobs=2, chunk_size=2)
