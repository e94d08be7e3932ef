"""``flask pact-verify`` and ``flask pact-states``: through ``app.test_cli_runner()``
and as real ``flask`` subprocesses (exit codes, output files, Ctrl-C)."""

from __future__ import annotations

import io
import json
import queue
import signal
import subprocess
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO

import pytest
from broker_stub import BrokerStub
from flask import Flask
from flask.testing import FlaskCliRunner
from process_helpers import flask_process
from verify_helpers import hand_pact, http_interaction

from flask_pact_states import PactStates
from flask_pact_states.cli import (
    ProgressCounter,
    pact_states_group,
    pact_verify_command,
)


@pytest.fixture
def pact(tmp_path: Path, states: PactStates) -> Path:
    """A pact whose one state has a handler on the ``app`` fixture."""

    @states.register("a user exists")
    def user_exists() -> None: ...

    interactions = [http_interaction("ping", states=["a user exists"])]
    return hand_pact(tmp_path / "web.json", interactions)


def test_cli_verify_exits_0_and_ends_with_the_counts(
    runner: FlaskCliRunner, pact: Path
) -> None:
    result = runner.invoke(pact_verify_command, [str(pact)])

    assert result.exit_code == 0, result.output
    assert "  PASS  Web: ping [a user exists]" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 passed, 0 failed"


def test_cli_verify_exits_1_with_the_failure_reason(
    runner: FlaskCliRunner, states: PactStates, tmp_path: Path
) -> None:
    @states.register("broken")
    def broken() -> None:
        raise KeyError("the cache")

    interactions = [
        http_interaction("handler", states=["broken"]),
        http_interaction("mismatch", "/nowhere"),
    ]
    pact = hand_pact(tmp_path / "p.json", interactions)

    result = runner.invoke(pact_verify_command, [str(pact)])

    assert result.exit_code == 1
    assert "KeyError: 'the cache'" in result.stdout
    assert "status: expected 200 but was 404" in result.stdout
    assert result.stdout.splitlines()[-1] == "0 passed, 2 failed"
    # The verifier's own report stays out of ours.
    assert "Verifying a pact between" not in result.output


def test_cli_verify_writes_junit_and_json(
    runner: FlaskCliRunner, pact: Path, tmp_path: Path
) -> None:
    junit, data = tmp_path / "out" / "junit.xml", tmp_path / "result.json"
    junit.parent.mkdir()

    result = runner.invoke(
        pact_verify_command,
        [str(pact), "--junit", str(junit), "--json", str(data), "--log-level", "info"],
    )

    assert result.exit_code == 0, result.output
    suites = ET.parse(junit).getroot()
    assert (suites.get("tests"), suites.get("failures")) == ("1", "0")
    document = json.loads(data.read_text(encoding="utf-8"))
    assert document["passed"] is True
    assert document["interactions"][0]["states"] == ["a user exists"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_cli_verify_that_cannot_write_its_json_says_so_after_the_report(
    runner: FlaskCliRunner, pact: Path
) -> None:
    # /dev/full accepts the open and fails the write (ENOSPC), as a full disk.
    result = runner.invoke(pact_verify_command, [str(pact), "--json", "/dev/full"])

    assert result.exit_code == 1
    assert "Cannot write '/dev/full': No space left on device." in result.output
    assert "1 passed, 0 failed" in result.stdout  # the report came first
    assert "Traceback" not in result.output


def test_cli_verify_app_state_calls_flag_reaches_the_app_hooks(
    runner: FlaskCliRunner, app: Flask, pact: Path
) -> None:
    from flask import request

    seen: list[str] = []
    app.before_request(lambda: seen.append(request.path))

    direct = runner.invoke(pact_verify_command, [str(pact)])
    through_app = runner.invoke(pact_verify_command, [str(pact), "--app-state-calls"])

    assert direct.exit_code == through_app.exit_code == 0, through_app.output
    state_url = app.config["PACT_STATES_URL"]
    assert seen == ["/ping", state_url, "/ping", state_url]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "No pact sources"),
        (["missing.json"], "'missing.json' does not exist"),
        (["invalid.json"], "is not valid JSON"),
        (["notapact.json"], "is not a pact"),
        (["two"], "Pass --provider NAME"),
        (["web.json", "--publish"], "--publish needs --provider-version"),
        (
            [
                "web.json",
                "--broker-url",
                "http://b",
                "--consumer-version-selector",
                "{",
            ],
            "is not valid JSON",
        ),
        (
            [
                "web.json",
                "--broker-url",
                "http://b",
                "--consumer-version-selector",
                "[]",
            ],
            "must be a JSON object",
        ),
        (["web.json", "--description", "("], "not a regular expression"),
        (["web.json", "--junit", "no/dir/junit.xml"], "'no/dir' does not exist"),
        (
            ["web.json", "--request-timeout", "0"],
            "Invalid value for '--request-timeout'",
        ),
    ],
)
def test_cli_verify_usage_errors_exit_2_without_traceback(
    runner: FlaskCliRunner,
    pact: Path,
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("PACT_BROKER_BASE_URL", raising=False)
    monkeypatch.chdir(pact.parent)
    Path("invalid.json").write_text("{", encoding="utf-8")
    Path("notapact.json").write_text('{"hello": "world"}', encoding="utf-8")
    Path("two").mkdir()
    hand_pact(Path("two/a.json"), [http_interaction("a")], provider="Users")
    hand_pact(Path("two/b.json"), [http_interaction("b")], provider="Orders")

    result = runner.invoke(pact_verify_command, arguments)

    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_cli_verify_refuses_an_app_without_pact_states(pact: Path) -> None:
    runner = Flask("bare").test_cli_runner()

    result = runner.invoke(pact_verify_command, [str(pact)])

    assert result.exit_code == 2
    assert "has no PactStates" in result.output
    assert "states.init_app(app)" in result.output


def test_cli_verify_uses_a_broker_and_publishes(
    runner: FlaskCliRunner, pact: Path
) -> None:
    document = json.loads(pact.read_text(encoding="utf-8"))
    with BrokerStub([document]) as broker:
        result = runner.invoke(
            pact_verify_command,
            [
                "--broker-url",
                broker.url,
                "--provider",
                "Users",
                "--consumer-version-selector",
                '{"mainBranch": true}',
                "--consumer-tag",
                "prod",
                "--provider-version",
                "3.1.4",
                "--provider-branch",
                "main",
                "--publish",
            ],
        )
        bodies, published = broker.for_verification_bodies, broker.published_results

    assert result.exit_code == 0, result.output
    assert bodies[0]["consumerVersionSelectors"] == [
        {"mainBranch": True},
        {"tag": "prod", "latest": True},
    ]
    assert [r.body["providerApplicationVersion"] for r in published] == ["3.1.4"]


def test_cli_list_shows_states_scopes_and_locations(
    runner: FlaskCliRunner, states: PactStates
) -> None:
    @states.register("user {user_id:int} exists", consumer="Web")
    def user_exists(user_id: int) -> None: ...

    result = runner.invoke(pact_states_group, ["list"])

    assert result.exit_code == 0, result.output
    assert "'user {user_id:int} exists'  (consumer 'Web')" in result.output
    assert f"function at {__file__}:" in result.output


def test_cli_list_says_how_to_add_a_handler(runner: FlaskCliRunner) -> None:
    result = runner.invoke(pact_states_group, ["list"])

    assert "No state handlers are registered" in result.output


def test_cli_check_exits_1_with_stubs_for_missing_states(
    runner: FlaskCliRunner, pact: Path, tmp_path: Path
) -> None:
    other = hand_pact(
        tmp_path / "mobile.json",
        [http_interaction("cart", states=["a cart exists"])],
        consumer="Mobile",
    )

    passing = runner.invoke(pact_states_group, ["check", str(pact)])
    failing = runner.invoke(pact_states_group, ["check", str(pact), str(other)])

    assert passing.exit_code == 0, passing.output
    assert "OK       'a user exists' (Web: ping)" in passing.output
    assert failing.exit_code == 1
    assert "MISSING  'a cart exists' (consumer 'Mobile'), used by: cart" in (
        failing.output
    )
    assert "@states.register('a cart exists')\ndef given_a_cart_exists():" in (
        failing.output
    )
    assert failing.output.splitlines()[-1] == "1 answered, 1 missing"


def test_cli_check_and_list_cover_message_producers(
    runner: FlaskCliRunner, states: PactStates, tmp_path: Path
) -> None:
    @states.message("an order created event")
    def order_created() -> str:
        return "order"

    events = [
        {"type": "Asynchronous/Messages", "description": "an order created event"},
        {"type": "Asynchronous/Messages", "description": "a refund event"},
    ]
    pact = hand_pact(tmp_path / "events.json", events, version="4.0")

    checked = runner.invoke(pact_states_group, ["check", str(pact)])
    listed = runner.invoke(pact_states_group, ["list"])

    assert checked.exit_code == 1
    assert "OK       'an order created event' (Web: an order created event)" in (
        checked.output
    )
    assert "MISSING  'a refund event' (consumer 'Web'), used by: a refund event" in (
        checked.output
    )
    assert "Add these producers (ready to paste):" in checked.output
    assert "@states.message('a refund event')\ndef produce_a_refund_event():" in (
        checked.output
    )
    assert checked.output.splitlines()[-1] == "1 answered, 1 missing"
    assert "1 message description(s), 1 producer(s):" in listed.output
    assert "'an order created event'  (any consumer)" in listed.output


def test_cli_check_rejects_a_bad_source(runner: FlaskCliRunner) -> None:
    result = runner.invoke(pact_states_group, ["check", "nowhere.json"])

    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_progress_counter_shows_only_long_runs() -> None:
    stream = io.StringIO()
    short, long = ProgressCounter(stream, minimum=20), ProgressCounter(stream)

    short(1, 5)
    long(3, 40)
    long(4, None)
    long.finish()

    assert stream.getvalue() == (
        "\rverifying interaction 3/40\rverifying interaction 4\r\x1b[K"
    )


APP_MODULE = '''
    """A provider app for subprocess runs of ``flask pact-verify``."""
    from __future__ import annotations

    import sys
    import threading

    from flask import Flask

    from flask_pact_states import PactStates, mock_db

    DB = {"real": True}
    ORIGINAL = DB
    states = PactStates()
    _never = threading.Event()


    @states.register("a user exists")
    def user_exists() -> None:
        mock_db("provider_app.DB", {"fake": True})


    @states.register("a stuck database")
    def stuck() -> None:
        mock_db("provider_app.DB", {"fake": True})
        print("handler started", file=sys.stderr, flush=True)
        _never.wait()  # until the run is interrupted


    @states.after_each
    def report() -> None:
        print(f"after_each: DB restored={DB is ORIGINAL}", file=sys.stderr, flush=True)


    def create_app() -> Flask:
        app = Flask(__name__)
        app.testing = True
        states.init_app(app)

        @app.get("/ping")
        def ping() -> dict[str, bool]:
            return {"pong": True}

        return app
'''


def _flask(directory: Path, *arguments: str) -> subprocess.Popen[str]:
    return flask_process(directory, "provider_app", APP_MODULE, *arguments)


@pytest.mark.parametrize(
    ("interactions", "code", "last_line"),
    [
        ([http_interaction("ping", states=["a user exists"])], 0, "1 passed, 0 failed"),
        ([http_interaction("ping", "/nowhere")], 1, "0 passed, 1 failed"),
    ],
)
def test_cli_subprocess_exit_codes(
    tmp_path: Path, interactions: list[dict[str, object]], code: int, last_line: str
) -> None:
    pact = hand_pact(tmp_path / "web.json", interactions)

    with _flask(tmp_path, "pact-verify", str(pact), "--junit", "junit.xml") as process:
        out, err = process.communicate(timeout=60)

    assert process.returncode == code, err
    assert out.splitlines()[-1] == last_line
    assert "Verifying a pact between" not in out
    assert (tmp_path / "junit.xml").exists()


def test_cli_subprocess_usage_error_exits_2(tmp_path: Path) -> None:
    with _flask(tmp_path, "pact-verify", "missing.json") as process:
        _, err = process.communicate(timeout=60)

    assert process.returncode == 2
    assert "'missing.json' does not exist" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_cli_subprocess_interrupt_undoes_patches_and_exits_130(
    tmp_path: Path, signum: signal.Signals
) -> None:
    interactions = [
        http_interaction(f"stuck {n}", states=["a stuck database"]) for n in range(3)
    ]
    pact = hand_pact(tmp_path / "web.json", interactions)
    lines: queue.Queue[str] = queue.Queue()

    def read(stream: IO[str] | None) -> None:
        for line in stream or ():
            lines.put(line)

    with _flask(tmp_path, "pact-verify", str(pact)) as process:
        # A thread, so that waiting for the handler's line can time out.
        reader = threading.Thread(target=read, args=(process.stderr,), daemon=True)
        reader.start()
        try:
            assert lines.get(timeout=60) == "handler started\n"
            process.send_signal(signum)
            assert process.wait(timeout=30) == 130
        finally:
            process.kill()
            reader.join()
    err = "".join(lines.queue)

    assert "after_each: DB restored=True" in err
    assert "Interrupted: stopped the server and undid every state change." in err
    assert "Traceback" not in err


def test_cli_verify_provider_selects_its_pacts_from_a_mixed_directory(
    runner: FlaskCliRunner, pact: Path, tmp_path: Path
) -> None:
    hand_pact(tmp_path / "payments.json", [http_interaction("pay")], provider="Pay")

    result = runner.invoke(pact_verify_command, [str(tmp_path), "--provider", "Users"])

    assert result.exit_code == 0, result.output
    assert "  PASS  Web: ping [a user exists]" in result.stdout
    assert "pay" not in result.stdout.split("Notes")[0]
    assert "only those for 'Users' are verified" in result.stdout


def test_cli_verify_refuses_a_directory_of_another_provider_s_pacts(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    hand_pact(tmp_path / "payments.json", [http_interaction("pay")], provider="Pay")

    result = runner.invoke(pact_verify_command, [str(tmp_path), "--provider", "Users"])

    assert result.exit_code == 2
    assert "None of the 1 pact file(s) is for provider 'Users'" in result.output


def test_cli_check_says_which_registered_state_a_missing_one_resembles(
    runner: FlaskCliRunner, pact: Path, tmp_path: Path
) -> None:
    typo = hand_pact(
        tmp_path / "typo.json", [http_interaction("me", states=["a usr exists"])]
    )

    result = runner.invoke(pact_states_group, ["check", str(typo)])

    assert result.exit_code == 1
    assert "used by: me; did you mean 'a user exists'?" in result.output
