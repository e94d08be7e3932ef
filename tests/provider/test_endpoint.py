"""The state-change endpoint through the Flask test client: answers and refusals.

Every test that takes ``client`` runs through both doors: the blueprint's
view (as any verifier calls it) and :class:`DirectStateCalls` (the runner's
door in front of the app). Their answers must not differ.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask, current_app, g, request
from werkzeug.test import Client, TestResponse

from flask_pact_states import PactStates
from flask_pact_states.provider.endpoint import DirectStateCalls

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

URL = "/_pact/provider_states"


@pytest.fixture(params=["app", "direct"])
def door(request: pytest.FixtureRequest) -> str:
    """Through the app's blueprint, or the runner's direct door."""
    return str(request.param)


class _DirectClient(Client):
    """A werkzeug test client calling from 127.0.0.1, as Flask's does."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("environ_base", {"REMOTE_ADDR": "127.0.0.1"})
        return super().open(*args, **kwargs)


def door_client(app: Flask, door: str) -> Client:
    if door == "app":
        return app.test_client()
    return _DirectClient(DirectStateCalls(app), TestResponse)


@pytest.fixture
def client(app: Flask, door: str) -> Client:
    return door_client(app, door)


def post(client: Client, body: Any = None, **kwargs: Any) -> TestResponse:
    if body is not None:
        kwargs["json"] = body
    return client.post(URL, **kwargs)


def setup(client: Client, state: str, **params: Any) -> TestResponse:
    return post(client, {"action": "setup", "state": state, "params": params})


def test_setup_calls_handler_with_params(
    states: PactStates, app: Flask, client: Client
) -> None:
    calls: list[dict[str, Any]] = []

    @states.register("user {user_id:int} exists")
    def user_exists(user_id: int, name: str = "Verna") -> None:
        calls.append({"user_id": user_id, "name": name})

    response = setup(client, "user 5 exists", name="Al")
    assert response.status_code == 200
    assert response.get_json() == {}
    assert calls == [{"user_id": 5, "name": "Al"}]


def test_setup_answers_with_returned_dict(
    states: PactStates, app: Flask, client: Client
) -> None:
    @states.register("a user exists")
    def user_exists() -> dict[str, int]:
        return {"user_id": 42}

    assert setup(client, "a user exists").get_json() == {"user_id": 42}


def test_setup_async_handler(states: PactStates, app: Flask, client: Client) -> None:
    @states.register("async state")
    async def async_state(x: int) -> dict[str, int]:
        return {"doubled": x * 2}

    assert setup(client, "async state", x=4).get_json() == {"doubled": 8}


def test_setup_query_mode(states: PactStates, app: Flask, client: Client) -> None:
    seen: list[Any] = []

    @states.register("user {name} exists")
    def user_exists(name: str, age: int, consumer: str | None) -> None:
        seen.append((name, age, consumer))

    response = client.post(
        URL, query_string={"state": "user Al exists", "age": "7", "consumer": "Web"}
    )
    assert response.status_code == 200
    assert seen == [("Al", 7, "Web")]


def test_setup_consumer_scoped_handler_via_url(
    states: PactStates, app: Flask, client: Client
) -> None:
    seen: list[str] = []
    states.register("s")(lambda: seen.append("shared"))
    states.register("s", consumer="Web")(lambda: seen.append("web"))
    post(client, {"state": "s"}, query_string={"consumer": "Web"})
    post(client, {"state": "s", "consumer": "Mobile"})
    assert seen == ["web", "shared"]


def test_setup_pactman_states_list_merges_answers(
    states: PactStates, app: Flask, client: Client
) -> None:
    states.register("a")(lambda: {"a": 1})
    states.register("b {n:int}")(lambda n: {"b": n})
    body = {
        "provider": "P",
        "consumer": "C",
        "states": [{"name": "a"}, {"name": "b 2"}],
    }
    assert post(client, body).get_json() == {"a": 1, "b": 2}


def test_empty_state_is_always_ok(app: Flask, client: Client) -> None:
    response = setup(client, "")
    assert response.status_code == 200
    assert response.get_json() == {}
    teardown = post(client, {"action": "teardown", "state": "", "params": {}})
    assert teardown.status_code == 200


def test_trailing_slash_is_tolerated(
    states: PactStates, app: Flask, client: Client
) -> None:
    states.register("s")(lambda: {"ok": True})
    response = client.post(URL + "/", json={"state": "s"})
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}


def test_unknown_state_answers_404_with_help(
    states: PactStates, app: Flask, client: Client
) -> None:
    states.register("user 123 exists")(lambda: None)
    response = post(
        client, {"state": "user 124 exists", "params": {"id": 124}, "consumer": "Web"}
    )
    assert response.status_code == 404
    body = response.get_json()
    assert body["error"] == "unknown_state"
    assert body["state"] == "user 124 exists"
    assert body["consumer"] == "Web"
    assert body["close_matches"] == ["user 123 exists"]
    assert body["known_states"] == ["user 123 exists"]
    assert "def given_user_124_exists(id):" in body["stub"]
    assert "No handler is registered for state 'user 124 exists'" in body["message"]


def test_unknown_state_warn_mode_answers_200(
    states: PactStates, caplog: pytest.LogCaptureFixture
) -> None:
    app = Flask("warn")
    app.config.update(TESTING=True, PACT_STATES_MISSING="warn")
    states.init_app(app)
    with caplog.at_level(logging.WARNING, "flask_pact_states"):
        response = setup(app.test_client(), "nobody knows")
    assert response.status_code == 200
    assert "No handler is registered for state 'nobody knows'" in caplog.text
    assert states.journal(app)[-1].outcome == "ignored"
    states.reset(app)


def test_failing_handler_answers_422_with_traceback(
    states: PactStates, app: Flask, client: Client
) -> None:
    @states.register("broken")
    def broken() -> None:
        raise ValueError("database on fire")

    response = setup(client, "broken")
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "state_change_failed"
    assert body["exception"]["type"] == "ValueError"
    assert body["exception"]["message"] == "database on fire"
    assert 'raise ValueError("database on fire")' in body["exception"]["traceback"]
    assert body["handler"].endswith("broken")


def test_binding_error_answers_422_naming_argument(
    states: PactStates, app: Flask, client: Client
) -> None:
    states.register("needs id")(lambda user_id: None)
    response = setup(client, "needs id", other=1)
    assert response.status_code == 422
    assert "needs 'user_id'" in response.get_json()["exception"]["message"]


@pytest.mark.parametrize("value", [[1, 2], "text", {"when": object()}])
def test_bad_return_value_answers_422(
    states: PactStates, app: Flask, client: Client, value: Any
) -> None:
    states.register("bad return")(lambda: value)
    response = setup(client, "bad return")
    assert response.status_code == 422
    assert response.get_json()["exception"]["type"] == "HandlerReturnError"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": b"{nope", "content_type": "application/json"}, "not valid JSON"),
        ({"data": b"[]", "content_type": "application/json"}, "must be a JSON object"),
        ({"json": {"state": 1}}, "'state' must be a string"),
        ({"json": {"state": "s", "params": "x"}}, "'params' must be a JSON object"),
        ({"json": {"state": "s", "action": "boom"}}, "Unknown action"),
        ({}, "No state given"),
    ],
)
def test_malformed_request_answers_400(
    app: Flask, client: Client, kwargs: dict[str, Any], message: str
) -> None:
    response = client.post(URL, **kwargs)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "malformed_request"
    assert message in body["message"]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_other_methods_answer_405_json(app: Flask, client: Client, method: str) -> None:
    response = client.open(URL, method=method)
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"


def test_remote_caller_is_refused(
    states: PactStates, app: Flask, client: Client
) -> None:
    states.register("s")(lambda: None)
    response = client.post(
        URL, json={"state": "s"}, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert response.status_code == 403
    assert "PACT_STATES_ALLOW_REMOTE" in response.get_json()["message"]


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_callers_are_answered(
    app: Flask, client: Client, address: str
) -> None:
    response = client.post(
        URL, json={"state": ""}, environ_base={"REMOTE_ADDR": address}
    )
    assert response.status_code == 200


def test_remote_caller_allowed_by_config(states: PactStates, door: str) -> None:
    app = Flask("remote")
    app.config.update(TESTING=True, PACT_STATES_ALLOW_REMOTE=True)
    states.init_app(app)
    response = door_client(app, door).post(
        URL, json={"state": ""}, environ_base={"REMOTE_ADDR": "192.0.2.1"}
    )
    assert response.status_code == 200
    states.reset(app)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-Pact-States-Token": "wrong"}, 401),
        ({"X-Pact-States-Token": "s3cret"}, 200),
    ],
)
def test_token_is_required_when_configured(
    states: PactStates, door: str, headers: dict[str, str], status: int
) -> None:
    app = Flask("token")
    app.config.update(TESTING=True, PACT_STATES_TOKEN="s3cret")
    states.init_app(app)
    client = door_client(app, door)
    response = client.post(URL, json={"state": ""}, headers=headers)
    assert response.status_code == status
    states.reset(app)


def test_oversized_body_answers_413(states: PactStates, door: str) -> None:
    app = Flask("small")
    app.config.update(TESTING=True, PACT_STATES_MAX_BODY=100)
    states.init_app(app)
    body = json.dumps({"state": "s", "params": {"blob": "x" * 200}})
    client = door_client(app, door)
    response = client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large"


def test_journal_records_every_change(
    states: PactStates, app: Flask, client: Client
) -> None:
    states.register("ok")(lambda: {"v": 1})
    setup(client, "ok", a=1)
    setup(client, "missing")
    client.post(URL, data=b"{")
    kinds = [(r.action, r.state, r.outcome, r.status) for r in states.journal(app)]
    assert kinds == [
        ("setup", "ok", "ok", 200),
        ("setup", "missing", "missing", 404),
        ("setup", "", "rejected", 400),
    ]
    first = states.journal(app)[0]
    assert first.params == {"a": 1}
    assert first.result == {"v": 1}
    assert first.handler is not None


def test_state_change_is_logged(
    states: PactStates,
    app: Flask,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    states.register("logged")(lambda: None)
    with caplog.at_level(logging.INFO, "flask_pact_states"):
        setup(client, "logged", a=1)
    assert "setup 'logged'" in caplog.text
    assert "{'a': 1}" in caplog.text


def test_app_routes_still_work(app: Flask, client: Client) -> None:
    assert client.get("/ping").get_json() == {"pong": True}


def test_handler_calling_pytest_fail_answers_422(
    states: PactStates, app: Flask, client: Client
) -> None:
    # pytest.fail() raises a BaseException subclass; it is the handler's
    # failure, not a reason to drop the connection or end the server.
    @states.register("asserting")
    def asserting() -> None:
        pytest.fail("the fixture data is wrong")

    response = setup(client, "asserting")
    assert response.status_code == 422
    assert response.get_json()["exception"]["type"] == "Failed"
    assert setup(client, "").status_code == 200


# the direct door: what it skips, and what handlers still get


def test_direct_door_skips_request_hooks_and_middleware(
    states: PactStates, app: Flask
) -> None:
    seen: list[str] = []
    states.register("s")(lambda: seen.append("handler"))

    @app.before_request
    def refuse_everyone() -> tuple[str, int]:
        seen.append("hook")
        return "no login", 401

    inner = app.wsgi_app

    def middleware(environ: WSGIEnvironment, start: StartResponse) -> Iterable[bytes]:
        seen.append("middleware")
        return inner(environ, start)

    app.wsgi_app = middleware  # type: ignore[method-assign,assignment]
    client = door_client(app, "direct")

    assert client.post(URL, json={"state": "s"}).status_code == 200
    assert seen == ["handler"]
    assert client.get("/ping").status_code == 401
    assert seen == ["handler", "middleware", "hook"]
    assert app.test_client().post(URL, json={"state": "s"}).status_code == 401


def test_direct_door_runs_handlers_in_an_app_context(
    states: PactStates, app: Flask
) -> None:
    closed: list[str] = []

    @states.register("s")
    def handler() -> dict[str, str]:
        g.seen = "g works"
        return {"app": current_app.name, "g": g.seen}

    @app.teardown_appcontext
    def close_resources(error: BaseException | None) -> None:
        closed.append("closed")

    response = door_client(app, "direct").post(URL, json={"state": "s"})

    assert response.get_json() == {"app": "provider", "g": "g works"}
    assert closed == ["closed"]


def test_direct_door_handler_using_request_answers_422_saying_so(
    states: PactStates, app: Flask
) -> None:
    states.register("s")(lambda: request.remote_addr)

    response = door_client(app, "direct").post(URL, json={"state": "s"})

    assert response.status_code == 422
    assert "outside of request context" in response.get_json()["message"]


def test_direct_door_needs_pact_states_on_the_app() -> None:
    with pytest.raises(RuntimeError, match=r"PactStates is not set up on app 'bare'"):
        DirectStateCalls(Flask("bare"))
