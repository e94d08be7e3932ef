"""Running verifiers other people wrote against a served app, and reading
what they sent (for ``tests/outside/``).

Each verifier is installed by ``.ci/outside-verifiers.sh`` into
``.cache/outside-verifiers/`` (each in its own environment: they conflict with
pact-python 4 and with each other); a missing one is skipped, saying how to
install it. Every subprocess is bounded by a timeout and runs with
``PACT_DO_NOT_TRACK=true``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl

import pytest

ROOT: Final = Path(__file__).resolve().parents[1]
CACHE: Final = ROOT / ".cache" / "outside-verifiers"
STATE_PATH: Final = "/_pact/provider_states"
_TIMEOUT: Final = 120


@dataclass
class Recorder:
    """WSGI middleware keeping (method, path, query, JSON body, status) per
    request, in front of the app's own request handling."""

    app: Any
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        call: dict[str, Any] = {
            "method": environ["REQUEST_METHOD"],
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
    name: str

    @property
    def state_url(self) -> str:
        return self.url + STATE_PATH


@dataclass(frozen=True)
class Verdict:
    """A verifier's exit status and output (empty for pact-python, which
    runs in this process and writes to the terminal itself)."""

    status: int
    output: str = ""


Runner = Callable[[Provider, Path], Verdict]


def _run(command: list[str], **env: str) -> Verdict:
    completed = subprocess.run(
        command,
        env={**os.environ, "PACT_DO_NOT_TRACK": "true", **env},
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
        cwd=ROOT,
    )
    return Verdict(completed.returncode, completed.stdout + completed.stderr)


def _installed(*parts: str) -> Path:
    path = CACHE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is missing: run bash .ci/outside-verifiers.sh")
    return path


def pact_python(*, query: bool, teardown: bool) -> Runner:
    def run(provider: Provider, pact: Path) -> Verdict:
        from pact import Verifier

        verifier = (
            Verifier(provider.name, host="127.0.0.1")
            .add_transport(url=provider.url)
            .state_handler(provider.state_url, teardown=teardown, body=not query)
            .add_source(pact)
        )
        try:
            verifier.verify()
        except RuntimeError:
            return Verdict(1)
        return Verdict(0)

    return run


def pact_cli(*, query: bool, teardown: bool) -> Runner:
    def run(provider: Provider, pact: Path) -> Verdict:
        pact_binary = _installed("pact-cli", "bin", "pact")
        port = provider.url.rsplit(":", 1)[1]
        command = [str(pact_binary), "verifier", "-f", str(pact), "-h", "127.0.0.1"]
        command += ["-p", port, "-n", provider.name, "--state-change-url"]
        command.append(provider.state_url)
        command += ["--state-change-as-query"] * query
        command += ["--state-change-teardown"] * teardown
        return _run(command)

    return run


def pactman(provider: Provider, pact: Path) -> Verdict:
    verifier = _installed("pactman", "bin", "pactman-verifier")
    command = [str(verifier), "-l", str(pact), provider.name, provider.url]
    return _run([*command, provider.state_url])


def ruby(provider: Provider, pact: Path) -> Verdict:
    verifier = _installed("ruby", "wheel", "pact", "bin", "pact-provider-verifier")
    command = [str(verifier), str(pact), "--provider-base-url", provider.url]
    return _run([*command, "--provider-states-setup-url", provider.state_url])


_PACT_JS: Final = """
const { Verifier } = require("@pact-foundation/pact");
const [provider, providerBaseUrl, pact, setupUrl] = process.argv.slice(2);
new Verifier({ provider, providerBaseUrl, pactUrls: [pact],
               providerStatesSetupUrl: setupUrl, logLevel: "error" })
  .verifyProvider()
  .then(() => process.exit(0), () => process.exit(1));
"""


def pact_js(provider: Provider, pact: Path) -> Verdict:
    modules = _installed("pact-js", "node_modules")
    script = pact.with_suffix(".cjs")
    script.write_text(_PACT_JS, encoding="utf-8")
    command = ["node", str(script), provider.name, provider.url, str(pact)]
    return _run([*command, provider.state_url], NODE_PATH=str(modules))


#: Every verifier and mode, and its family (what it is known to send).
VERIFIERS: Final[dict[str, tuple[Runner, str]]] = {
    "pact-python body": (pact_python(query=False, teardown=False), "rust"),
    "pact-python body teardown": (
        pact_python(query=False, teardown=True),
        "rust teardown",
    ),
    "pact-python query": (pact_python(query=True, teardown=False), "rust"),
    "pact-python query teardown": (
        pact_python(query=True, teardown=True),
        "rust teardown",
    ),
    "pact cli body": (pact_cli(query=False, teardown=False), "rust"),
    "pact cli query teardown": (pact_cli(query=True, teardown=True), "rust teardown"),
    # pact-js always tears down, whatever its options say.
    "pact-js": (pact_js, "rust teardown"),
    "pactman": (pactman, "pactman"),
    "ruby": (ruby, "ruby"),
}


# -- reading what was sent ---------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A state call as the tests compare them: action, state names, params,
    and the body's keys (``<query>`` for the Rust verifier's query mode)."""

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


def transcript(calls: Iterable[dict[str, Any]]) -> list[str]:
    """Each request in order as one line: ``setup "a state" 200`` for a state
    call (its states joined by ``+``, ``[]`` for none, ``null`` for Ruby's
    null), ``GET /users/5 404`` for a request to the app."""
    lines = []
    for raw in calls:
        if raw["path"].rstrip("/") == STATE_PATH:
            call = read_call(raw)
            names = " + ".join(json.dumps(name) for name in call.states) or "[]"
            lines.append(f"{call.action} {names} {raw['status']}")
        else:
            lines.append(f"{raw['method']} {raw['path']} {raw['status']}")
    return lines


def expected_transcript(
    interactions: Iterable[dict[str, Any]], family: str, requests: Iterable[str]
) -> list[str]:
    """What a verifier of ``family`` is known to send for ``interactions``
    when every state call answers 200, ``requests`` being the app's lines.

    The Rust verifier: one setup per state (``""`` for none), the request,
    then one teardown per state in the same order when teardown is on. Ruby:
    one setup per state (``null`` for none), never a teardown. pactman: one
    call with all the interaction's states (``[]`` for an empty list, no call
    when the pact has no ``providerStates`` key), never a teardown.
    """
    lines: list[str] = []
    for interaction, request in zip(interactions, requests, strict=True):
        given = interaction.get("providerStates")
        names = [json.dumps(state["name"]) for state in given or []]
        if family.startswith("rust"):
            names = names or ['""']
            lines += [f"setup {name} 200" for name in names] + [request]
            if family == "rust teardown":
                lines += [f"teardown {name} 200" for name in names]
        elif family == "ruby":
            lines += [f"setup {name} 200" for name in names or ["null"]] + [request]
        else:
            call = [f"setup {' + '.join(names) or '[]'} 200"] * (given is not None)
            lines += [*call, request]
    return lines
