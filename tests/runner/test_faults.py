"""Faults on the endpoint side: handlers and app routes that misbehave.

What it proves, for each fault below: the verifier gets a clear 4xx answer
(never a 5xx it would retry for two minutes), no patch is left active, every
patched global is the original object again (``is``), and the next state
change works.

* A handler hanging past the verifier's request timeout (served over real
  HTTP, the client giving up after 0.5 s): the next state change gets 409
  ``busy`` after ``PACT_STATES_LOCK_TIMEOUT``, the app's own routes keep
  answering meanwhile, and all recovers once the handler returns.
* A generator handler raising in its teardown code, first or last of two
  states: 422 naming the exception, the other state still undone.
* A handler returning something that is not JSON (5 kinds): 422, undone at once.
* An app route raising: the app's own 500, the next setup undoes the
  interaction before it.
* An unknown state whose interaction start fails (the previous interaction's
  undo or a ``before_each`` hook raising), in both ``PACT_STATES_MISSING``
  modes: 422, not the 500 it used to be.
* ``KeyboardInterrupt`` and ``SystemExit`` in a handler's set-up, or in its
  teardown as the first or last state torn down (6 cases): they propagate,
  with nothing left patched (the other state included) and the lock released.

19 faults in 17 test cases, all survived, including a handler returning
``{"x": float("nan")}`` (a 422: a bare ``NaN`` is no JSON).
"""

from __future__ import annotations

import datetime
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import pytest
from flask import Flask
from flask.testing import FlaskClient
from serving_helpers import DB, ORIGINAL_ORDERS, ORIGINAL_USERS, served
from werkzeug.test import TestResponse

from flask_pact_states import PactStates, StateChangeRecord, active_patch_count, mock_db
from flask_pact_states.provider.state import get_app_states

URL: Final = "/_pact/provider_states"


def setup(client: FlaskClient, state: str) -> TestResponse:
    return client.post(URL, json={"action": "setup", "state": state, "params": {}})


def teardown(client: FlaskClient, state: str) -> TestResponse:
    return client.post(URL, json={"action": "teardown", "state": state, "params": {}})


def assert_nothing_patched() -> None:
    assert active_patch_count() == 0
    assert DB.users is ORIGINAL_USERS
    assert DB.orders is ORIGINAL_ORDERS


@pytest.fixture
def users_state(states: PactStates) -> None:
    @states.register("users exist")
    def users_exist() -> None:
        mock_db((DB, "users"), {1: "Al"})


# -- a hanging handler ----------------------------------------------------------


def request(
    port: int, method: str, path: str, document: Any = None, timeout: float = 10
) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = None if document is None else json.dumps(document)
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_hanging_handler_makes_the_next_change_busy_then_all_recovers(
    states: PactStates, users_state: None
) -> None:
    entered, release = threading.Event(), threading.Event()
    quick_calls: list[str] = []

    @states.register("hangs")
    def hangs() -> None:
        mock_db((DB, "orders"), {})
        entered.set()
        release.wait(timeout=10)

    states.register("quick")(lambda: quick_calls.append("quick"))
    hang_done = threading.Event()

    def note_hang_done(record: StateChangeRecord) -> None:
        if record.state == "hangs":
            hang_done.set()

    app = Flask("hanging")
    app.config.update(TESTING=True, PACT_STATES_LOCK_TIMEOUT=0.2)
    states.init_app(app)
    app.get("/ping")(lambda: {"pong": True})
    try:
        with served(app) as port:
            # The verifier gives up on the hung call (its timeout, shortened).
            with pytest.raises(socket.timeout):
                request(port, "POST", URL, {"state": "hangs"}, timeout=0.5)
            assert entered.is_set()
            assert request(port, "GET", "/ping") == (200, {"pong": True})
            started = time.perf_counter()
            status, body = request(port, "POST", URL, {"state": "quick"})
            waited = time.perf_counter() - started
            assert (status, body["error"]) == (409, "busy")
            assert "0.2 s" in body["message"]
            assert 0.2 <= waited < 3
            assert quick_calls == []
            with get_app_states(app).journal.listen(note_hang_done):
                release.set()
                assert hang_done.wait(timeout=10)
            # Recovered: the lock is free again and undo works as usual.
            assert request(port, "POST", URL, {"state": "users exist"})[0] == 200
            assert DB.orders is ORIGINAL_ORDERS  # the hung state was undone
            assert request(port, "POST", URL, {"state": "quick"})[0] == 200
            assert quick_calls == ["quick"]
    finally:
        release.set()
        get_app_states(app).close()
    assert_nothing_patched()
    outcomes = [(r.state, r.outcome, r.status) for r in states.journal(app)]
    assert outcomes == [
        ("quick", "rejected", 409),
        ("hangs", "ok", 200),  # answered when it returned, the verifier gone
        ("users exist", "ok", 200),
        ("quick", "ok", 200),
    ]


# -- teardown and return-value faults -------------------------------------------


@pytest.mark.parametrize("failing", ["first", "last"])
def test_teardown_raising_answers_422_and_the_rest_is_undone(
    states: PactStates, app: Flask, client: FlaskClient, failing: str
) -> None:
    finished: list[str] = []
    fail_once = [failing]

    def generator_state(name: str, table: str) -> Callable[[], Iterator[None]]:
        def handler() -> Iterator[None]:
            mock_db((DB, table), {name: True})
            yield
            finished.append(name)
            if name in fail_once:
                fail_once.remove(name)
                raise RuntimeError(f"cannot undo {name}")

        return handler

    states.register("first")(generator_state("first", "users"))
    states.register("last")(generator_state("last", "orders"))
    assert setup(client, "first").status_code == 200
    assert setup(client, "last").status_code == 200
    assert client.get("/ping").status_code == 200  # the provider request
    # The Rust verifier tears states down in set-up order.
    answers = [teardown(client, "first"), teardown(client, "last")]
    assert sorted(answer.status_code for answer in answers) == [200, 422]
    (failed,) = [answer.get_json() for answer in answers if answer.status_code == 422]
    assert failed["exception"]["type"] == "RuntimeError"
    assert f"cannot undo {failing}" in failed["exception"]["message"]
    assert "raise RuntimeError" in failed["exception"]["traceback"]
    assert sorted(finished) == ["first", "last"]  # both teardowns ran
    assert_nothing_patched()
    assert setup(client, "first").status_code == 200  # and it starts over
    states.reset(app)
    assert_nothing_patched()


NOT_JSON: Final[list[Any]] = [
    {"at": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)},
    {"raw": b"bytes"},
    {"ids": {1, 2}},
    {"nested": {"deep": [object()]}},
    {("tuple", "key"): 1},
]


@pytest.mark.parametrize(
    "value",
    [
        *NOT_JSON,
        {"nan": float("nan")},
    ],
    ids=["datetime", "bytes", "set", "object", "tuple-key", "nan"],
)
def test_unserialisable_return_answers_422_and_undoes_at_once(
    states: PactStates, app: Flask, client: FlaskClient, users_state: None, value: Any
) -> None:
    @states.register("returns junk")
    def returns_junk() -> Any:
        mock_db((DB, "orders"), {})
        return value

    assert setup(client, "users exist").status_code == 200
    response = setup(client, "returns junk")
    assert response.status_code == 422
    assert response.get_json()["exception"]["type"] == "HandlerReturnError"
    assert_nothing_patched()  # the verifier skips a failed setup's teardown
    assert setup(client, "users exist").status_code == 200
    states.reset(app)


# -- the app itself failing -----------------------------------------------------


def test_app_route_raising_gets_the_apps_500_and_states_carry_on(
    states: PactStates, app: Flask, client: FlaskClient, users_state: None
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as when served for real

    @app.get("/boom")
    def boom() -> str:
        raise ZeroDivisionError("the provider itself is broken")

    @states.register("orders exist")
    def orders_exist() -> None:
        mock_db((DB, "orders"), {7: "order"})

    assert setup(client, "users exist").status_code == 200
    response = client.get("/boom")
    assert response.status_code == 500  # the app's answer, not the endpoint's
    assert DB.users is not ORIGINAL_USERS  # the state outlives the failure
    # No teardown came; the next interaction's setup undoes the last one.
    assert setup(client, "orders exist").status_code == 200
    assert DB.users is ORIGINAL_USERS
    assert DB.orders is not ORIGINAL_ORDERS
    assert teardown(client, "orders exist").status_code == 200
    assert_nothing_patched()


@pytest.mark.parametrize("missing", ["error", "warn"])
def test_unknown_state_whose_interaction_start_fails_answers_422(
    states: PactStates, missing: str
) -> None:
    @states.register("bad undo")
    def bad_undo() -> Iterator[None]:
        mock_db((DB, "users"), {})
        yield
        raise RuntimeError("undo failed")

    app = Flask("missing")
    app.config.update(TESTING=True, PACT_STATES_MISSING=missing)
    states.init_app(app)
    client = app.test_client()
    try:
        assert setup(client, "bad undo").status_code == 200
        client.get("/anything")  # the provider request; no teardown follows
        # Unknown, so no handler runs, but its interaction starts: the last
        # one's undo raises.
        response = setup(client, "nobody knows")
        assert response.status_code == 422
        assert response.get_json()["exception"]["message"] == "undo failed"
        assert_nothing_patched()

        hook_calls: list[str] = []

        @states.before_each
        def broken_hook() -> None:
            hook_calls.append("hook")
            raise ValueError("hook broke")

        response = setup(client, "nobody knows")
        assert response.status_code == 422
        assert "hook broke" in response.get_json()["message"]
        assert hook_calls == ["hook"]
    finally:
        states._hooks.before_each.clear()
        get_app_states(app).close()
    assert_nothing_patched()


# -- Ctrl-C and exits inside handlers -------------------------------------------


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit])
def test_base_exception_in_setup_propagates_and_leaves_no_patch(
    states: PactStates,
    app: Flask,
    client: FlaskClient,
    users_state: None,
    error: type[BaseException],
) -> None:
    @states.register("interrupted")
    def interrupted() -> None:
        mock_db((DB, "orders"), {})
        raise error

    assert setup(client, "users exist").status_code == 200
    with pytest.raises(error):
        setup(client, "interrupted")
    assert_nothing_patched()  # the whole interaction, users included
    assert setup(client, "users exist").status_code == 200  # lock released
    states.reset(app)
    assert_nothing_patched()


def teardown_all(client: FlaskClient, names: list[str]) -> None:
    for name in names:
        teardown(client, name)


@pytest.mark.parametrize("position", ["first", "last"])
@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit])
def test_base_exception_in_teardown_propagates_and_leaves_no_patch(
    states: PactStates,
    app: Flask,
    client: FlaskClient,
    users_state: None,
    error: type[BaseException],
    position: str,
) -> None:
    @states.register("interrupted on undo")
    def interrupted_on_undo() -> Iterator[None]:
        mock_db((DB, "orders"), {})
        yield
        raise error

    names = ["interrupted on undo", "users exist"]
    if position == "last":
        names.reverse()
    for name in names:
        assert setup(client, name).status_code == 200
    client.get("/ping")
    with pytest.raises(error):
        teardown_all(client, names)
    assert_nothing_patched()  # the other state too, before any reset
    assert setup(client, "users exist").status_code == 200  # lock released
    states.reset(app)
    assert_nothing_patched()
