"""Message producers through the blueprint's message endpoint, ``Message``
encoding and ``capture``, without a verifier."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import verify_helpers
from flask import Flask, current_app
from flask.testing import FlaskClient
from verify_helpers import create_order

from flask_pact_states import (
    Message,
    PactStates,
    active_patch_count,
    capture,
)
from flask_pact_states.errors import (
    CaptureError,
    DuplicateStateError,
    HandlerReturnError,
    PactStatesError,
    StateRegistrationError,
)
from flask_pact_states.provider.endpoint import DirectStateCalls
from flask_pact_states.provider.messages import encode_message
from flask_pact_states.provider.state import get_app_states

MESSAGE_URL = "/_pact/message"
STATE_URL = "/_pact/provider_states"


def _ask(client: FlaskClient, description: str, query: str = "", **extra: Any) -> Any:
    return client.post(
        f"{MESSAGE_URL}{query}", json={"description": description, **extra}
    )


def test_message_endpoint_answers_contents_type_and_metadata(
    states: PactStates, client: FlaskClient
) -> None:
    @states.message("an order created event")
    def order_created() -> Message:
        return Message({"id": 5}, metadata={"topic": "orders", "n": 1})

    response = _ask(client, "an order created event")

    assert response.status_code == 200
    assert response.get_json() == {"id": 5}
    assert response.content_type == "application/json"
    metadata = base64.b64decode(response.headers["Pact-Message-Metadata"])
    assert json.loads(metadata) == {"topic": "orders", "n": 1}


@pytest.mark.parametrize(
    ("value", "body", "content_type"),
    [
        ([1, 2], b"[1, 2]", "application/json"),
        ("héllo", "héllo".encode(), "text/plain"),
        (b"\x00\xff", b"\x00\xff", "application/octet-stream"),
        (Message("a,b", content_type="text/csv"), b"a,b", "text/csv"),
    ],
)
def test_encode_message_picks_a_body_and_content_type(
    value: Any, body: bytes, content_type: str
) -> None:
    answer = encode_message(value, "produce")

    assert answer.body == body
    assert dict(answer.headers)["Content-Type"] == content_type
    assert "Pact-Message-Metadata" not in dict(answer.headers)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (None, "returned NoneType contents"),
        (3, "returned int contents"),
        (Message({"a": float("nan")}), "contents that are not JSON"),
        (Message({}, metadata={"at": object()}), "metadata that are not JSON"),
    ],
)
def test_encode_message_refuses_what_it_cannot_send(value: Any, match: str) -> None:
    with pytest.raises(HandlerReturnError, match=match):
        encode_message(value, "produce")


def test_message_producer_gets_state_params_captures_and_state_values(
    states: PactStates, client: FlaskClient
) -> None:
    seen: list[Any] = []

    @states.register("order {order_id:int} exists")
    def order_exists(order_id: int) -> dict[str, Any]:
        return {"token": f"t{order_id}"}

    @states.message("order {kind} event")
    def event(kind: str, order_id: int, token: str, consumer: str | None) -> str:
        seen.append((kind, order_id, token, consumer, current_app.name))
        return "ok"

    client.post(f"{STATE_URL}?consumer=Web", json={"state": "order 7 exists"})
    response = _ask(
        client,
        "order created event",
        providerStates=[{"name": "order 7 exists", "params": {"order_id": 7}}],
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert seen == [("created", 7, "t7", "Web", "provider")]


def test_message_producers_are_scoped_to_consumers(
    states: PactStates, client: FlaskClient
) -> None:
    @states.message("an event")
    def anyone() -> str:
        return "any"

    @states.message("an event", consumer="Mobile")
    def mobile() -> str:
        return "mobile"

    assert _ask(client, "an event", "?consumer=Mobile").data == b"mobile"
    assert _ask(client, "an event", "?consumer=Web").data == b"any"
    with pytest.raises(DuplicateStateError, match="Message 'an event' is already"):
        states.message("an event")(anyone)


def test_message_producer_async_and_sync_request(
    states: PactStates, client: FlaskClient
) -> None:
    @states.message("a price query")
    async def price(request: dict[str, Any]) -> dict[str, Any]:
        return {"item": request["item"], "price": 3}

    sync_request = {
        "contents": {
            "content": {"item": "kettle"},
            "contentType": "application/json",
            "encoded": False,
        }
    }
    response = _ask(client, "a price query", request=sync_request)

    assert response.get_json() == {"item": "kettle", "price": 3}


def test_message_producer_missing_failing_and_malformed_get_4xx(
    states: PactStates, client: FlaskClient, app: Flask
) -> None:
    @states.message("a broken event")
    def broken() -> str:
        raise ValueError("no outbox")

    missing = _ask(client, "a refund event")
    failed = _ask(client, "a broken event")
    malformed = client.post(MESSAGE_URL, data=b"[1]")
    wrong_method = client.get(MESSAGE_URL)

    assert missing.status_code == 404
    assert missing.get_json()["stub"].startswith("@states.message('a refund event')")
    assert failed.status_code == 422
    assert failed.get_json()["exception"]["type"] == "ValueError"
    assert malformed.status_code == 400
    assert wrong_method.status_code == 405
    outcomes = [(r.action, r.outcome) for r in get_app_states(app).journal]
    assert outcomes == [
        ("message", "missing"),
        ("message", "error"),
        ("setup", "rejected"),
        ("setup", "rejected"),
    ]


def test_message_producer_refuses_generators(states: PactStates) -> None:
    def generator() -> Any:
        yield "x"

    with pytest.raises(StateRegistrationError, match="is a generator"):
        states.message("an event")(generator)


def test_capture_is_undone_with_the_interaction(
    states: PactStates, client: FlaskClient
) -> None:
    original = verify_helpers.publish

    @states.message("an order created event")
    def order_created() -> Any:
        sent = capture("verify_helpers.publish")
        create_order(5, "kettle")
        return sent.arguments["payload"]

    client.post(STATE_URL, json={"state": "", "action": "setup"})
    response = _ask(client, "an order created event")
    patched = verify_helpers.publish is not original
    client.post(STATE_URL, json={"state": "", "action": "teardown"})

    assert response.get_json() == {"id": 5, "item": "kettle"}
    assert patched
    assert verify_helpers.publish is original
    assert active_patch_count() == 0


def test_capture_reads_arguments_by_name_and_undoes_at_block_end() -> None:
    with capture("verify_helpers.publish") as sent:
        verify_helpers.publish("orders", payload={"id": 1})
        assert active_patch_count() == 1

    assert active_patch_count() == 0
    assert sent.arguments == {"topic": "orders", "payload": {"id": 1}}
    assert sent.args == ("orders",)
    assert sent.kwargs == {"payload": {"id": 1}}
    with pytest.raises(TypeError), capture("verify_helpers.publish"):
        verify_helpers.publish("orders")  # type: ignore[call-arg]


@pytest.mark.parametrize(("calls", "match"), [(0, "recorded no call"), (2, "2 calls")])
def test_capture_zero_or_two_calls_is_a_clear_error(calls: int, match: str) -> None:
    with capture("verify_helpers.publish") as sent:
        create_order(1, "kettle", notify=calls)

    assert len(sent.calls) == calls
    with pytest.raises(CaptureError, match=match) as raised:
        sent.call_args  # noqa: B018
    assert isinstance(raised.value, PactStatesError | AssertionError)


def test_direct_door_answers_messages_too(states: PactStates, app: Flask) -> None:
    @states.message("an event")
    def event() -> str:
        return "direct"

    door = DirectStateCalls(app)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": MESSAGE_URL,
        "QUERY_STRING": "",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "26",
        "wsgi.input": __import__("io").BytesIO(b'{"description":"an event"}'),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
    }
    statuses: list[str] = []
    body = door(environ, lambda status, headers: statuses.append(status))  # type: ignore[arg-type]

    assert statuses == ["200 OK"]
    assert b"".join(body) == b"direct"


class _Producer:
    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        raise RuntimeError("a real Kafka")


def test_capture_a_method_on_a_class_or_an_instance() -> None:
    producer = _Producer()
    with capture((_Producer, "send")) as on_class:
        producer.send("orders", value=b"1")
    with capture((producer, "send"), return_value="future") as on_instance:
        future = producer.send("orders", b"2", key=b"k")  # type: ignore[func-returns-value]

    assert on_class.arguments["value"] == b"1"
    assert on_class.arguments["self"] is producer
    assert on_instance.arguments == {"topic": "orders", "value": b"2", "key": b"k"}
    assert future == "future"
