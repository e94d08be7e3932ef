"""Message pacts with the real verifier: V3 message pacts, V4 pacts mixing
HTTP and messages, metadata and content types, states reaching producers,
failing and missing producers, synchronous messages and ``capture``."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import verify_helpers
from verify_helpers import (
    create_order,
    hand_pact,
    http_interaction,
    make_app,
    message_interaction,
)

from flask_pact_states import (
    Message,
    PactStates,
    active_patch_count,
    capture,
    mock_db,
)
from flask_pact_states.runner.api import verify

pytestmark = pytest.mark.e2e

ORDER_EVENT = message_interaction(
    "an order created event",
    {"id": 5, "item": "kettle"},
    states=[("order 5 exists", {"item": "kettle"})],
    metadata={"topic": "orders"},
)


def _http(description: str) -> dict[str, Any]:
    return {**http_interaction(description), "type": "Synchronous/HTTP"}


def _register_order_producer(states: PactStates) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    @states.register("order {order_id:int} exists")
    def order_exists(order_id: int) -> dict[str, int]:
        mock_db("verify_helpers.USERS", {order_id: "Ann"})
        return {"order_id": order_id}

    @states.message("an order created event")
    def order_created(order_id: int, item: str) -> Message:
        seen.append({"order_id": order_id, "item": item})
        with capture("verify_helpers.publish") as sent:
            create_order(order_id, item)
        assert verify_helpers.USERS.get(order_id) == "Ann"  # states still set up
        return Message(
            sent.arguments["payload"], metadata={"topic": sent.arguments["topic"]}
        )

    return seen


def test_verify_v4_mixes_http_and_messages_in_one_run(
    tmp_path: Path, states: PactStates
) -> None:
    seen = _register_order_producer(states)
    pact = hand_pact(
        tmp_path / "p.json",
        [_http("ping"), ORDER_EVENT, _http("ping again")],
        version="4.0",
    )

    result = verify(make_app(states), pact, chunk_size=0)

    assert result.passed, result.report()
    assert [i.description for i in result.interactions] == [
        "ping",
        "an order created event",
        "ping again",
    ]
    assert seen == [{"order_id": 5, "item": "kettle"}]
    assert active_patch_count() == 0
    assert result.notes == []


def test_coverage_lists_the_producers_no_interaction_used(
    tmp_path: Path, states: PactStates
) -> None:
    _register_order_producer(states)

    @states.message("a refund issued event")
    def refund_issued() -> Message:
        return Message({"refund": 1})

    pact = hand_pact(tmp_path / "p.json", [_http("ping"), ORDER_EVENT], version="4.0")

    result = verify(make_app(states), pact)

    assert result.passed, result.report()
    assert [h.func for h in result.unused_producers] == [refund_issued]
    assert result.unused_handlers == []
    report = result.report()
    assert "Message producers no verified interaction used:" in report
    assert "refund_issued" in report
    assert "every handler was used" not in report
    unused = json.loads(result.to_json())["unused_producers"]
    assert [entry["states"] for entry in unused] == [["a refund issued event"]]


def test_verify_reports_message_mismatches_like_http_ones(
    tmp_path: Path, states: PactStates
) -> None:
    @states.message("an order created event")
    def order_created() -> Message:
        return Message({"id": "5", "item": "kettle"}, metadata={"topic": "order"})

    event = message_interaction(
        "an order created event",
        {"id": 5, "item": "kettle"},
        metadata={"topic": "orders"},
    )
    pact = hand_pact(tmp_path / "p.json", [event], version="4.0")

    result = verify(make_app(states), pact)

    (interaction,) = result.interactions
    assert not interaction.passed
    assert "metadata.topic: Expected metadata key 'topic'" in interaction.mismatch
    assert "body $.id: Expected '5' (String) to be equal to 5" in (interaction.mismatch)
    junit = ET.fromstring(result.to_junit())
    assert junit.find(".//failure").get("type") == "mismatch"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("contents", "content", "content_type", "encoded"),
    [
        ({"a": [1, 2]}, {"a": [1, 2]}, "application/json", False),
        ("hello", "hello", "text/plain", False),
        (b"\x00\x01\xff", "AAH/", "application/octet-stream", "base64"),
        (
            Message("<a/>", content_type="application/xml"),
            "<a/>",
            "application/xml",
            False,
        ),
    ],
    ids=["json", "text", "bytes", "xml"],
)
def test_verify_messages_of_each_content_type(
    tmp_path: Path,
    states: PactStates,
    contents: Any,
    content: Any,
    content_type: str,
    encoded: str | bool,
) -> None:
    @states.message("a message")
    def produce() -> Any:
        return contents

    event = message_interaction("a message", content, (), content_type, None, encoded)
    pact = hand_pact(tmp_path / "p.json", [event], version="4.0")

    result = verify(make_app(states), pact)

    assert result.passed, result.report()


def test_verify_v3_message_pact_written_by_pact_python(
    tmp_path: Path, states: PactStates
) -> None:
    from pact import Pact, match

    seen = _register_order_producer(states)
    pact = Pact("Web", "Users").with_specification("V3")
    (
        pact.upon_receiving("an order created event", "Async")
        .given("order 5 exists", {"item": "kettle"})
        .with_body({"id": match.int(5), "item": "kettle"}, "application/json")
        .with_metadata({"topic": "orders"})
    )
    pact.upon_receiving("a greeting", "Async").with_body("hi", "text/plain")
    pact.verify(lambda body, metadata: None, "Async")
    pact.write_file(tmp_path, overwrite=True)

    @states.message("a greeting")
    def greeting() -> str:
        return "hi"

    result = verify(make_app(states), tmp_path / "Web-Users.json")

    assert result.passed, result.report()
    assert len(result.interactions) == 2
    assert seen == [{"order_id": 5, "item": "kettle"}]


def test_verify_reports_a_raising_producer_fast(
    tmp_path: Path, states: PactStates
) -> None:
    calls: list[int] = []

    @states.message("an order created event")
    def order_created() -> Message:
        calls.append(1)
        raise ConnectionError("the outbox table is locked")

    pact = hand_pact(tmp_path / "p.json", [ORDER_EVENT], version="4.0")

    @states.register("order {order_id:int} exists")
    def order_exists(order_id: int) -> None:
        pass

    result = verify(make_app(states), pact)

    (interaction,) = result.interactions
    assert interaction.status == "failed"
    assert calls == [1]  # a 4xx answer: the verifier never retried it
    failure = interaction.state_failure
    assert failure is not None
    assert failure.is_message
    reason = interaction.reason
    assert reason.startswith(
        "Producing message 'an order created event' (params {'item': 'kettle'})"
        " failed in "
    )
    assert reason.splitlines()[0].endswith(
        "test_verify_reports_a_raising_producer_fast.<locals>.order_created():"
        " ConnectionError: the outbox table is locked"
    )
    assert "Traceback (most recent call last)" in reason
    assert 'raise ConnectionError("the outbox table is locked")' in reason
    assert ET.fromstring(result.to_junit()).find(".//failure").get("type") == (  # type: ignore[union-attr]
        "message"
    )
    document = json.loads(result.to_json())
    assert document["interactions"][0]["state_failure"]["action"] == "message"


def test_verify_reports_a_missing_producer_with_a_stub(
    tmp_path: Path, states: PactStates
) -> None:
    event = message_interaction("a refund issued event", {"refund": 1})
    pact = hand_pact(tmp_path / "p.json", [event], version="4.0")

    result = verify(make_app(states), pact)

    (interaction,) = result.interactions
    assert not interaction.passed
    assert interaction.reason.startswith(
        "No producer is registered for message 'a refund issued event'"
        " from consumer 'Web'.\nAdd a producer:\n"
        "@states.message('a refund issued event')\n"
        "def produce_a_refund_issued_event():"
    )


def test_verify_synchronous_messages_give_the_producer_the_request(
    tmp_path: Path, states: PactStates
) -> None:
    @states.register("prices are set")
    def prices_set() -> None:
        pass

    @states.message("a price query")
    def price(request: dict[str, Any], currency: str) -> dict[str, Any]:
        return {"item": request["item"], "price": 3, "currency": currency}

    query = {
        "type": "Synchronous/Messages",
        "description": "a price query",
        "providerStates": [{"name": "prices are set", "params": {"currency": "EUR"}}],
        "request": {
            "contents": {
                "content": {"item": "kettle"},
                "contentType": "application/json",
                "encoded": False,
            },
            "metadata": {"contentType": "application/json"},
        },
        "response": [
            {
                "contents": {
                    "content": {"item": "kettle", "price": 3, "currency": "EUR"},
                    "contentType": "application/json",
                    "encoded": False,
                },
                "metadata": {"contentType": "application/json"},
            }
        ],
    }
    pact = hand_pact(tmp_path / "p.json", [query], version="4.0")

    result = verify(make_app(states), pact)

    assert result.passed, result.report()


@pytest.mark.parametrize(
    ("notify", "expected"), [(0, "recorded no call"), (2, "recorded 2 calls")]
)
def test_verify_capture_called_zero_or_two_times_fails_clearly(
    tmp_path: Path, states: PactStates, notify: int, expected: str
) -> None:
    @states.message("an order created event")
    def order_created() -> Any:
        with capture("verify_helpers.publish") as sent:
            create_order(5, "kettle", notify=notify)
        return sent.arguments["payload"]

    event = message_interaction("an order created event", {"id": 5, "item": "kettle"})
    pact = hand_pact(tmp_path / "p.json", [event], version="4.0")

    result = verify(make_app(states), pact)

    (interaction,) = result.interactions
    assert not interaction.passed
    assert "CaptureError: capture('verify_helpers.publish') " + expected in (
        interaction.reason
    )
    assert active_patch_count() == 0


def test_verify_chunks_and_filters_mixed_pacts_and_counts_messages(
    tmp_path: Path, states: PactStates
) -> None:
    @states.message("event {n:int}")
    async def event(n: int) -> dict[str, int]:
        return {"n": n}

    entries: list[dict[str, Any]] = []
    for n in range(6):
        entries.append(_http(f"ping {n}"))
        entries.append(message_interaction(f"event {n}", {"n": n}))
    pact = hand_pact(tmp_path / "p.json", entries, version="4.0")

    chunked = verify(make_app(states), pact, chunk_size=5)
    filtered = verify(make_app(states), pact, description="^event [0-2]$")

    assert chunked.passed, chunked.report()
    assert len(chunked.interactions) == 12
    assert filtered.passed, filtered.report()
    assert [i.description for i in filtered.interactions] == [
        "event 0",
        "event 1",
        "event 2",
    ]


_MESSAGE_APP = """
from flask_pact_states import Message, PactStates, capture
from verify_helpers import create_order, make_app

states = PactStates()


@states.register("order {order_id:int} exists")
def order_exists(order_id):
    return {"order_id": order_id}


@states.message("order {n:int} created")
def order_created(n, order_id):
    with capture("verify_helpers.publish") as sent:
        create_order(order_id, "kettle")
    return Message(sent.arguments["payload"], metadata={"topic": "orders"})


@states.message("a failing event {n:int}")
def failing(n):
    raise ConnectionError(f"outbox {n} is locked")


def create_app():
    return make_app(states)
"""


@pytest.fixture
def message_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The import string of a provider with producers (workers import it)."""
    import os
    import sys

    (tmp_path / "message_app.py").write_text(_MESSAGE_APP, encoding="utf-8")
    here = os.path.dirname(os.path.dirname(__file__))  # tests/
    monkeypatch.setattr(sys, "path", [str(tmp_path), here, *sys.path])
    monkeypatch.delitem(sys.modules, "message_app", raising=False)
    return "message_app:create_app"


def _mixed(count: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for n in range(count):
        kind = n % 4
        if kind == 0:
            entries.append(_http(f"{n:03} ping"))
        elif kind == 1:
            entries.append(
                message_interaction(
                    f"order {n} created",
                    {"id": n, "item": "kettle"},
                    states=[(f"order {n} exists", {})],
                    metadata={"topic": "orders"},
                )
            )
        elif kind == 2:
            entries.append(message_interaction(f"a failing event {n}", {"n": n}))
        else:
            entries.append(message_interaction(f"a missing event {n}", {"n": n}))
    return entries


def test_jobs_and_chunks_keep_every_message_outcome(
    tmp_path: Path, message_app: str
) -> None:
    from flask_pact_states.runner.parallel import load_app

    pact = hand_pact(tmp_path / "mixed.json", _mixed(16), version="4.0")

    def outcomes(**options: Any) -> list[tuple[str, str, str]]:
        app = load_app(message_app)
        result = verify(app, pact, app_factory=message_app, **options)
        return [
            (i.description, i.status, i.reason.splitlines()[0] if i.reason else "")
            for i in result.interactions
        ]

    plain = outcomes(chunk_size=0)
    assert [status for _, status, _ in plain] == [
        "passed",
        "passed",
        "failed",
        "failed",
    ] * 4
    assert plain[2][2].endswith("ConnectionError: outbox 2 is locked")
    assert (
        plain[3][2] == "No producer is registered for message 'a missing event 3' from"
        " consumer 'Web'."
    )
    assert outcomes(chunk_size=3) == plain
    assert outcomes(chunk_size=3, jobs=2) == plain


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "through-the-app"])
def test_verify_messages_with_a_token_through_either_door(
    tmp_path: Path, states: PactStates, direct: bool
) -> None:
    @states.message("an event")
    def event() -> dict[str, int]:
        return {"n": 1}

    entries = [_http("ping"), message_interaction("an event", {"n": 1})]
    pact = hand_pact(tmp_path / "p.json", entries, version="4.0")
    app = make_app(states, PACT_STATES_TOKEN="s3cret")

    result = verify(app, pact, direct_state_calls=direct)

    assert result.passed, result.report()
    assert len(result.interactions) == 2
