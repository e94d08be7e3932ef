"""Verifiers other people wrote, as clients of the blueprint.

Each verifier runs for real against an app served through Flask's own
request handling on 127.0.0.1, with a recorder in front that keeps every
request. The tests assert on what each verifier sent to the state URL (so a
format change in any of them shows up) and on its verdict. The verifiers are
installed by ``.ci/outside-verifiers.sh`` into ``.cache/outside-verifiers/``
(each in its own environment: they conflict with pact-python 4); a missing
one is skipped, saying how to install it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl

import pytest
from flask import Flask
from serving_helpers import served
from verify_helpers import hand_pact, http_interaction, make_app

from flask_pact_states import PactStates, mock_db

pytestmark = pytest.mark.e2e

ROOT: Final = Path(__file__).resolve().parents[2]
CACHE: Final = ROOT / ".cache" / "outside-verifiers"
STATE_PATH: Final = "/_pact/provider_states"
#: Params of every JSON type, and a string that parses as JSON.
EVERY_TYPE: Final = {
    "text": "Verna",
    "digits": "123",
    "int": 7,
    "float": 1.5,
    "true": True,
    "null": None,
    "list": [1, "a"],
    "object": {"k": "v"},
}
_TIMEOUT: Final = 120


@dataclass
class Recorder:
    """WSGI middleware keeping (path, query, JSON body, status) per request."""

    app: Any
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        call: dict[str, Any] = {
            "path": environ.get("PATH_INFO"),
            "query": dict(
                parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            ),
            "body": json.loads(body) if body.strip() else None,
        }
        self.calls.append(call)

        def recording_start(status: str, headers: Any, *rest: Any) -> Any:
            call["status"] = int(status.split()[0])
            return start_response(status, headers, *rest)

        return self.app(environ, recording_start)

    def state_calls(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["path"].rstrip("/") == STATE_PATH]

    def app_calls(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["path"].rstrip("/") != STATE_PATH]


@dataclass
class Provider:
    """The served app: its base URL, state URL and what reached it."""

    url: str
    recorder: Recorder

    @property
    def state_url(self) -> str:
        return self.url + STATE_PATH


@pytest.fixture
def provider() -> Iterator[Provider]:
    states = PactStates()

    @states.register("user {user_id:int} exists")
    def user_exists(user_id: int) -> None:
        mock_db("verify_helpers.USERS", {user_id: f"user {user_id}"})

    @states.register("the mailer is up")
    def mailer_is_up() -> None: ...

    @states.register("params of every type")
    def every_type(**params: Any) -> None: ...

    @states.register("a broken state")
    def broken() -> None:
        raise RuntimeError("broken on purpose")

    app: Flask = make_app(states, PACT_STATES_PROVIDER="Users")
    recorder = Recorder(app.wsgi_app)
    app.wsgi_app = recorder  # type: ignore[method-assign]
    with served(app) as port:
        yield Provider(f"http://127.0.0.1:{port}", recorder)


def good_pact(directory: Path) -> Path:
    """Two states on one interaction, params of every type, a stateless one."""
    two_states = http_interaction(
        "a request for user 5", "/users/5", states=["user 5 exists"]
    )
    two_states["providerStates"].append({"name": "the mailer is up", "params": {}})
    two_states["response"]["body"] = {"id": 5, "name": "user 5"}
    typed = http_interaction("a request with typed params", states=["x"])
    typed["providerStates"] = [{"name": "params of every type", "params": EVERY_TYPE}]
    stateless = http_interaction("a stateless request")
    return hand_pact(directory / "good.json", [two_states, typed, stateless])


def leak_pact(directory: Path) -> Path:
    """A failing state before a real one, then a stateless interaction that
    must not see the real one's row (issue 16, item 2)."""
    failing = http_interaction(
        "a request in a broken state", states=["a broken state", "user 5 exists"]
    )
    after = http_interaction("a request for user 5, gone", "/users/5")
    after["response"] = {"status": 404}
    return hand_pact(directory / "leak.json", [failing, after])


# -- running each verifier -------------------------------------------------

Runner = Callable[[Provider, Path], int]


def _run(command: list[str], **env: str) -> int:
    completed = subprocess.run(
        command,
        env={**os.environ, "PACT_DO_NOT_TRACK": "true", **env},
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
        cwd=ROOT,
    )
    return completed.returncode


def _installed(*parts: str) -> Path:
    path = CACHE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is missing: run bash .ci/outside-verifiers.sh")
    return path


def pact_python(*, query: bool, teardown: bool) -> Runner:
    def run(provider: Provider, pact: Path) -> int:
        from pact import Verifier

        verifier = (
            Verifier("Users", host="127.0.0.1")
            .add_transport(url=provider.url)
            .state_handler(provider.state_url, teardown=teardown, body=not query)
            .add_source(pact)
        )
        try:
            verifier.verify()
        except RuntimeError:
            return 1
        return 0

    return run


def pact_cli(*, query: bool, teardown: bool) -> Runner:
    def run(provider: Provider, pact: Path) -> int:
        pact_binary = _installed("pact-cli", "bin", "pact")
        port = provider.url.rsplit(":", 1)[1]
        command = [str(pact_binary), "verifier", "-f", str(pact), "-h", "127.0.0.1"]
        command += ["-p", port, "-n", "Users", "--state-change-url"]
        command.append(provider.state_url)
        command += ["--state-change-as-query"] * query
        command += ["--state-change-teardown"] * teardown
        return _run(command)

    return run


def pactman(provider: Provider, pact: Path) -> int:
    verifier = _installed("pactman", "bin", "pactman-verifier")
    command = [str(verifier), "-l", str(pact), "Users", provider.url]
    return _run([*command, provider.state_url])


def ruby(provider: Provider, pact: Path) -> int:
    verifier = _installed("ruby", "wheel", "pact", "bin", "pact-provider-verifier")
    command = [str(verifier), str(pact), "--provider-base-url", provider.url]
    return _run([*command, "--provider-states-setup-url", provider.state_url])


_PACT_JS: Final = """
const { Verifier } = require("@pact-foundation/pact");
const [providerBaseUrl, pact, setupUrl] = process.argv.slice(2);
new Verifier({ provider: "Users", providerBaseUrl, pactUrls: [pact],
               providerStatesSetupUrl: setupUrl, logLevel: "error" })
  .verifyProvider()
  .then(() => process.exit(0), () => process.exit(1));
"""


def pact_js(provider: Provider, pact: Path) -> int:
    modules = _installed("pact-js", "node_modules")
    script = pact.with_suffix(".cjs")
    script.write_text(_PACT_JS, encoding="utf-8")
    command = ["node", str(script), provider.url, str(pact), provider.state_url]
    return _run(command, NODE_PATH=str(modules))


VERIFIERS: Final[dict[str, Runner]] = {
    "pact-python body": pact_python(query=False, teardown=False),
    "pact-python body teardown": pact_python(query=False, teardown=True),
    "pact-python query teardown": pact_python(query=True, teardown=True),
    "pact cli body": pact_cli(query=False, teardown=False),
    "pact cli query teardown": pact_cli(query=True, teardown=True),
    "pact-js": pact_js,
    "pactman": pactman,
    "ruby": ruby,
}


# -- what each verifier sends ------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A state call as the tests compare them: action, state names, params."""

    action: str
    states: tuple[str | None, ...]
    params: dict[str, Any]
    keys: frozenset[str]


def read_call(raw: dict[str, Any]) -> Call:
    body, query = raw["body"], dict(raw["query"])
    if body is None:  # the Rust verifier's query mode
        query.pop("consumer", None)
        action, state = query.pop("action"), query.pop("state")
        return Call(action, (state,), query, frozenset({"<query>"}))
    keys = frozenset(body)
    if "states" in body and isinstance(body["states"], list):
        names = tuple(s["name"] if isinstance(s, dict) else s for s in body["states"])
        params = body.get("params") or {}
        for entry in body["states"]:
            if isinstance(entry, dict):
                params = {**params, **(entry.get("params") or {})}
        return Call(body.get("action", "setup"), names, params, keys)
    return Call(body.get("action", "setup"), (body["state"],), body["params"], keys)


RUST_SETUPS: Final = [
    ("user 5 exists",),
    ("the mailer is up",),
    ("params of every type",),
    ("",),
]
#: What each verifier was seen to send for the good pact: the body's keys,
#: the setups in order, and whether teardowns come.
EXPECTED: Final[dict[str, tuple[frozenset[str], list[tuple[Any, ...]], bool]]] = {
    "pact-python body": (frozenset({"action", "state", "params"}), RUST_SETUPS, False),
    "pact-python body teardown": (
        frozenset({"action", "state", "params"}),
        RUST_SETUPS,
        True,
    ),
    "pact-python query teardown": (frozenset({"<query>"}), RUST_SETUPS, True),
    "pact cli body": (frozenset({"action", "state", "params"}), RUST_SETUPS, False),
    "pact cli query teardown": (frozenset({"<query>"}), RUST_SETUPS, True),
    # pact-js always tears down, whatever its options say.
    "pact-js": (frozenset({"action", "state", "params"}), RUST_SETUPS, True),
    # One call per interaction, all its states in it; an empty list for a
    # stateless one (read as "").
    "pactman": (
        frozenset({"provider", "consumer", "states"}),
        [("user 5 exists", "the mailer is up"), ("params of every type",), ()],
        False,
    ),
    # One call per state, null for a stateless interaction; no teardown.
    "ruby": (
        frozenset({"consumer", "state", "states", "params"}),
        [("user 5 exists",), ("the mailer is up",), ("params of every type",), (None,)],
        False,
    ),
}


@pytest.mark.parametrize("name", VERIFIERS)
def test_outside_verifier_passes_and_sends_what_it_is_known_to(
    name: str, provider: Provider, tmp_path: Path
) -> None:
    status = VERIFIERS[name](provider, good_pact(tmp_path))

    calls = [read_call(raw) for raw in provider.recorder.state_calls()]
    keys, setups, teardown = EXPECTED[name]
    assert status == 0, provider.recorder.calls
    assert [c.states for c in calls if c.action == "setup"] == setups
    assert {c.keys for c in calls if c.action == "setup"} == {keys}
    assert any(c.action == "teardown" for c in calls) is teardown
    assert all(raw["status"] == 200 for raw in provider.recorder.state_calls())
    assert [c["status"] for c in provider.recorder.app_calls()] == [200, 200, 200]


@pytest.mark.parametrize("name", VERIFIERS)
def test_outside_verifier_params_keep_their_types_except_in_query_mode(
    name: str, provider: Provider, tmp_path: Path
) -> None:
    VERIFIERS[name](provider, good_pact(tmp_path))

    calls = [read_call(raw) for raw in provider.recorder.state_calls()]
    typed = next(c for c in calls if c.states == ("params of every type",))
    if "query" in name:
        # Strings raw, other values JSON-encoded: "123" and 123 look alike.
        assert typed.params["digits"] == "123"
        assert typed.params["int"] == "7"
        assert typed.params["text"] == "Verna"
    else:
        assert typed.params == EVERY_TYPE


#: Whether the verifier fails a run whose state change failed: pactman only
#: warns about a failed state call.
_FAILS_ON_STATE_ERRORS: Final = {name: name != "pactman" for name in VERIFIERS}


@pytest.mark.parametrize("name", VERIFIERS)
def test_outside_verifier_failed_state_leaks_nothing_into_the_next_interaction(
    name: str, provider: Provider, tmp_path: Path
) -> None:
    status = VERIFIERS[name](provider, leak_pact(tmp_path))

    assert (status != 0) is _FAILS_ON_STATE_ERRORS[name]
    user_5 = [c for c in provider.recorder.app_calls() if c["path"] == "/users/5"]
    assert user_5, provider.recorder.calls
    assert {c["status"] for c in user_5} == {404}, provider.recorder.calls
