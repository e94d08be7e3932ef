"""The state-change endpoint changes data on request: who may call it, and what.

What it proves: the endpoint never mounts on an app that is not for tests
(nothing half-mounted, 3 configs); it answers loopback callers only (5 IPv4,
IPv6 and IPv4-mapped IPv6 loopback forms answered; 12 remote, malformed or
missing addresses and 4 forwarding headers refused with 403, no handler run)
unless ``PACT_STATES_ALLOW_REMOTE``, which still needs the token; with
``PACT_STATES_TOKEN`` it refuses 10 missing, wrong, near-miss or misplaced
tokens with 401 before reading the body, compares with
:func:`hmac.compare_digest` and never echoes the token; bodies over
``PACT_STATES_MAX_BODY`` get 413 whether announced by Content-Length or sent
chunked, through the test client and a real HTTP server, and an endless
chunked body is read no further than the limit; and only registered handlers
ever run: 13 state names that an unsafe tool would look up as functions
(``os.system``, ``__import__``, ``builtins.eval``, a handler's own function
name...) are unknown states (404, or 200 in warn mode: 26 cases) with no
process started, nothing imported, evaluated or resolved by name.
69 test cases in all.
"""

from __future__ import annotations

import builtins
import hmac
import http.client
import importlib
import io
import os
import pkgutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import pytest
from flask import Flask
from serving_helpers import served
from werkzeug.test import TestResponse

from flask_pact_states import PactStates
from flask_pact_states.errors import PactStatesNotEnabledError
from flask_pact_states.provider.state import get_app_states

URL: Final = "/_pact/provider_states"
TOKEN: Final = "s3cret-token"


@contextmanager
def configured(states: PactStates, **config: Any) -> Iterator[Flask]:
    """A testing app with ``config``, closed (everything undone) at the end."""
    app = Flask("secured")
    app.config.update(TESTING=True, **config)
    states.init_app(app)
    try:
        yield app
    finally:
        get_app_states(app).close()


@pytest.fixture
def calls(states: PactStates) -> list[str]:
    """A registered state whose handler records each call."""
    seen: list[str] = []

    @states.register("a user exists")
    def user_exists() -> None:
        seen.append("a user exists")

    return seen


def post(app: Flask, body: Any = None, **kwargs: Any) -> TestResponse:
    return app.test_client().post(URL, json=body, **kwargs)


# -- mounting -------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [{}, {"TESTING": False}, {"TESTING": True, "PACT_STATES_ENABLED": False}],
    ids=["default", "testing-off", "testing-but-disabled"],
)
def test_init_app_refuses_non_testing_app_and_mounts_nothing(
    states: PactStates, config: dict[str, Any]
) -> None:
    app = Flask("production")
    app.config.update(config)
    with pytest.raises(PactStatesNotEnabledError, match="PACT_STATES_ENABLED"):
        states.init_app(app)
    assert "pact_states" not in app.extensions
    assert "pact_states" not in app.blueprints
    assert not app.before_request_funcs
    response = app.test_client().post(URL, json={"state": ""})
    assert response.status_code == 404  # the app's own: no such route


# -- callers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",  # IPv4 caller of a dual-stack server
        "::ffff:7f00:1",
        "0:0:0:0:0:0:0:1",
        "::1%lo",
        "127.255.255.254",
    ],
)
def test_loopback_variants_are_answered(
    states: PactStates, calls: list[str], address: str
) -> None:
    with configured(states) as app:
        response = post(
            app, {"state": "a user exists"}, environ_base={"REMOTE_ADDR": address}
        )
    assert response.status_code == 200
    assert calls == ["a user exists"]


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "::ffff:10.0.0.1",
        "::ffff:192.168.1.1",
        "fe80::1%eth0",
        "2001:db8::1",
        "0.0.0.0",
        "::",
        "localhost",
        "127.0.0.1:5000",
        "127.0.0.1, 10.0.0.1",
        "",
    ],
)
def test_remote_callers_get_403_and_nothing_runs(
    states: PactStates, calls: list[str], address: str
) -> None:
    with configured(states) as app:
        response = post(
            app, {"state": "a user exists"}, environ_base={"REMOTE_ADDR": address}
        )
        assert response.status_code == 403
        assert response.get_json()["error"] == "forbidden"
        assert "PACT_STATES_ALLOW_REMOTE" in response.get_json()["message"]
        assert states.journal(app)[-1].outcome == "rejected"
    assert calls == []


def test_caller_without_address_gets_403(states: PactStates, calls: list[str]) -> None:
    with configured(states) as app:
        client = app.test_client()
        client.environ_base.pop("REMOTE_ADDR", None)
        response = client.post(URL, json={"state": "a user exists"})
    assert response.status_code == 403
    assert calls == []


@pytest.mark.parametrize(
    "header", ["X-Forwarded-For", "X-Real-Ip", "Forwarded", "Client-Ip"]
)
def test_forwarding_headers_do_not_make_a_caller_local(
    states: PactStates, calls: list[str], header: str
) -> None:
    value = "for=127.0.0.1" if header == "Forwarded" else "127.0.0.1"
    with configured(states) as app:
        response = post(
            app,
            {"state": "a user exists"},
            headers={header: value},
            environ_base={"REMOTE_ADDR": "203.0.113.9"},
        )
    assert response.status_code == 403
    assert calls == []


def test_allowed_remote_caller_still_needs_the_token(
    states: PactStates, calls: list[str]
) -> None:
    remote = {"REMOTE_ADDR": "192.0.2.1"}
    with configured(
        states, PACT_STATES_ALLOW_REMOTE=True, PACT_STATES_TOKEN=TOKEN
    ) as app:
        refused = post(app, {"state": "a user exists"}, environ_base=remote)
        answered = post(
            app,
            {"state": "a user exists"},
            environ_base=remote,
            headers={"X-Pact-States-Token": TOKEN},
        )
    assert (refused.status_code, answered.status_code) == (401, 200)
    assert calls == ["a user exists"]


# -- token ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"headers": {"X-Pact-States-Token": ""}},
        {"headers": {"X-Pact-States-Token": TOKEN[:-1]}},
        {"headers": {"X-Pact-States-Token": TOKEN + "x"}},
        {"headers": {"X-Pact-States-Token": f" {TOKEN}"}},
        {"headers": {"X-Pact-States-Token": TOKEN.upper()}},
        {"headers": {"X-Pact-States-Token": TOKEN + "\x00"}},
        {"headers": {"X-Pact-States-Token": "s3crét-token"}},
        # Any str can reach a WSGI environ; encoding it used to raise (a 500).
        {"headers": {"X-Pact-States-Token": "\ud800"}},
        {"headers": {"Authorization": f"Bearer {TOKEN}"}},
        {"query_string": {"X-Pact-States-Token": TOKEN, "token": TOKEN}},
    ],
    ids=[
        "empty",
        "prefix",
        "longer",
        "leading-space",
        "other-case",
        "nul",
        "non-ascii",
        "lone-surrogate",
        "authorization-header",
        "query-string",
    ],
)
def test_token_wrong_or_misplaced_gets_401_and_nothing_runs(
    states: PactStates, calls: list[str], kwargs: dict[str, Any]
) -> None:
    with configured(states, PACT_STATES_TOKEN=TOKEN) as app:
        response = post(app, {"state": "a user exists"}, **kwargs)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert TOKEN not in response.get_data(as_text=True)  # never echoed
    assert calls == []


def test_token_is_checked_before_the_body_is_read(
    states: PactStates, calls: list[str]
) -> None:
    body = ReadCounter(b"{not json at all")
    environ = {"wsgi.input": body, "CONTENT_LENGTH": "16"}
    with configured(states, PACT_STATES_TOKEN=TOKEN) as app:
        response = app.test_client().post(URL, environ_overrides=environ)
    assert response.status_code == 401  # not 400: the body was never parsed
    assert body.bytes_read == 0


def test_token_is_compared_in_constant_time(
    states: PactStates, calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[Any, Any]] = []
    real_compare_digest = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real_compare_digest(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    with configured(states, PACT_STATES_TOKEN=TOKEN) as app:
        wrong = post(
            app, {"state": "a user exists"}, headers={"X-Pact-States-Token": "nope"}
        )
        right = post(
            app, {"state": "a user exists"}, headers={"X-Pact-States-Token": TOKEN}
        )
    assert (wrong.status_code, right.status_code) == (401, 200)
    assert compared == [(b"nope", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]
    assert calls == ["a user exists"]


# -- body size ------------------------------------------------------------------

MAX_BODY: Final = 1000


class ReadCounter(io.RawIOBase):
    """A request body that counts what the app reads; ``None`` data is endless."""

    def __init__(self, data: bytes | None) -> None:
        self._data = io.BytesIO(data) if data is not None else None
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        chunk = self._data.read(size) if self._data is not None else b"x" * size
        buffer[: len(chunk)] = chunk
        self.bytes_read += len(chunk)
        return len(chunk)


def body_of_size(size: int) -> bytes:
    """A valid state change for ``a user exists`` exactly ``size`` bytes long."""
    start, end = b'{"state":"a user exists","params":{"pad":"', b'"}}'
    return start + b"x" * (size - len(start) - len(end)) + end


def test_body_at_the_limit_is_accepted(states: PactStates, calls: list[str]) -> None:
    with configured(states, PACT_STATES_MAX_BODY=MAX_BODY) as app:
        response = app.test_client().post(URL, data=body_of_size(MAX_BODY))
    assert response.status_code == 200
    assert calls == ["a user exists"]


@pytest.mark.parametrize("announced", [str(MAX_BODY + 1), "99999999999999"])
def test_body_announced_over_the_limit_gets_413_unread(
    states: PactStates, calls: list[str], announced: str
) -> None:
    body = ReadCounter(body_of_size(MAX_BODY + 1))
    environ = {"wsgi.input": body, "CONTENT_LENGTH": announced}
    with configured(states, PACT_STATES_MAX_BODY=MAX_BODY) as app:
        response = app.test_client().post(URL, environ_overrides=environ)
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large"
    assert body.bytes_read == 0
    assert calls == []


@pytest.mark.parametrize("endless", [False, True], ids=["just-over", "endless"])
def test_chunked_body_over_the_limit_gets_413(
    states: PactStates, calls: list[str], endless: bool
) -> None:
    # Chunked transfer: no Content-Length; the server marks the input as
    # terminated, so the app may read it to the end, which might never come.
    body = ReadCounter(None if endless else body_of_size(MAX_BODY + 1))
    environ = {"wsgi.input": body, "wsgi.input_terminated": True}
    with configured(states, PACT_STATES_MAX_BODY=MAX_BODY) as app:
        response = app.test_client().post(
            URL,
            headers={"Transfer-Encoding": "chunked"},
            environ_overrides=environ,
        )
    assert response.status_code == 413
    assert body.bytes_read <= MAX_BODY + 1 + io.DEFAULT_BUFFER_SIZE
    assert calls == []


def post_chunked(port: int, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        pieces = (body[i : i + 300] for i in range(0, len(body), 300))
        connection.request(
            "POST",
            URL,
            body=pieces,
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_chunked_body_over_real_http(states: PactStates, calls: list[str]) -> None:
    with configured(states, PACT_STATES_MAX_BODY=MAX_BODY) as app, served(app) as port:
        small = post_chunked(port, body_of_size(MAX_BODY))
        large = post_chunked(port, body_of_size(4 * MAX_BODY))
    assert small == (200, b"{}")
    assert large[0] == 413
    assert b"too_large" in large[1]
    assert calls == ["a user exists"]


# -- only registered handlers ---------------------------------------------------

DANGEROUS_NAMES: Final = [
    "os.system",
    "os:system",
    "system",
    "__import__",
    "builtins.eval",
    "eval",
    "exec",
    "subprocess.run",
    "flask_pact_states.mocking.undo_patches",
    "user_exists",  # the registered handler's function name
    "__class__",
    "{0.__class__.__init__.__globals__}",
    "a user exists.__call__",
]


def spy_on_code_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spies on everything that runs, evaluates or looks up code by name.

    Installed once the app is built: werkzeug's routing compiles with exec().
    """
    seen: list[str] = []

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> Any:
            seen.append(name)
            return real(*args, **kwargs)

        return record

    targets: list[tuple[Any, str]] = [
        (os, "system"),
        (os, "popen"),
        (subprocess, "Popen"),
        (builtins, "eval"),
        (builtins, "exec"),
        (importlib, "import_module"),
        (pkgutil, "resolve_name"),
    ]
    for owner, attribute in targets:
        monkeypatch.setattr(owner, attribute, spy(attribute, getattr(owner, attribute)))
    return seen


@pytest.mark.parametrize("missing", ["error", "warn"])
@pytest.mark.parametrize("state", DANGEROUS_NAMES)
def test_only_registered_handlers_can_run(
    states: PactStates,
    calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
    state: str,
    missing: str,
) -> None:
    params = {"command": "echo pwned", "name": "os", "args": ["id"]}
    with configured(states, PACT_STATES_MISSING=missing) as app:
        assert post(app, {"state": ""}).status_code == 200  # warm up the routing
        forbidden_calls = spy_on_code_lookups(monkeypatch)
        response = post(app, {"state": state, "params": params})
        if missing == "error":
            assert response.status_code == 404
            assert response.get_json()["error"] == "unknown_state"
            assert response.get_json()["known_states"] == ["a user exists"]
        else:
            assert response.status_code == 200
            assert states.journal(app)[-1].outcome == "ignored"
        monkeypatch.undo()
    assert calls == []
    assert forbidden_calls == []
