"""Consumer tests: the orders client against Pact mock servers.

Each test builds the pact for one interaction, serves it and drives the real
client; the mock server fails the test when the client's requests do not
match. At the end of the module the passed pacts are written into one file,
in ``$PACT_OUTPUT_DIR`` when set and otherwise in a temporary directory: the
committed pact is regenerated only by ``make -C examples/flask_orders pact``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from orders_consumer.client import Customer, Line, Order
from orders_consumer.pact_builder import (
    CANCEL_ORDER,
    CREATE_ORDER,
    CUSTOMER_ORDERS,
    DESCRIPTIONS,
    GET_CUSTOMER,
    GET_ORDER,
    GET_UNKNOWN_CUSTOMER,
    HEALTH,
    OPEN_ORDERS,
    build_pact,
    call_for,
    exercise,
    pact_output_dir,
    write_pacts,
)
from pact import Pact
from pact.error import MismatchesError

KETTLE = Line("kettle", 1, 2999)
TOASTERS = Line("toaster", 2, 4599)
EXPECTED: dict[str, object] = {
    HEALTH: True,
    GET_CUSTOMER: Customer(42, "Joyce Aguilar"),
    GET_UNKNOWN_CUSTOMER: None,
    GET_ORDER: Order(7, 42, "open", (KETTLE, TOASTERS), 12197),
    CUSTOMER_ORDERS: [Order(1, 42, "open", (Line("teapot", 1, 1850),), 1850)] * 2,
    CANCEL_ORDER: Order(7, 42, "cancelled", (KETTLE, TOASTERS), 12197),
    CREATE_ORDER: Order(1, 42, "open", (KETTLE,), 2999),
    OPEN_ORDERS: [],
}


@pytest.fixture(scope="module")
def passed_pacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Pact]]:
    """Collect the pacts whose interactions passed; write them into one file."""
    pacts: list[Pact] = []
    yield pacts
    write_pacts(pacts, pact_output_dir(default=tmp_path_factory.mktemp("pacts")))


@pytest.mark.parametrize("description", DESCRIPTIONS)
def test_orders_client_against_the_pact(
    passed_pacts: list[Pact], description: str
) -> None:
    pact = build_pact(description)

    result = exercise(pact, call_for(description))
    passed_pacts.append(pact)

    assert result == EXPECTED[description]


def test_pact_has_about_eight_interactions_and_sorted_order() -> None:
    assert len(DESCRIPTIONS) == 8
    # The verifier replays the file sorted by description: the POST first.
    assert sorted(DESCRIPTIONS).index(CREATE_ORDER) < sorted(DESCRIPTIONS).index(
        OPEN_ORDERS
    )


def test_build_pact_rejects_unknown_description() -> None:
    with pytest.raises(ValueError, match="No interaction is described as 'nope'"):
        build_pact("nope")


def test_exercise_fails_when_client_strays_from_pact() -> None:
    with pytest.raises(MismatchesError, match="/orders/8"):
        exercise(build_pact(GET_ORDER), lambda client: client.get_order(8))


def test_order_from_json_rejects_bad_documents() -> None:
    with pytest.raises(ValueError, match="lacks a field"):
        Order.from_json({"id": 1})
    with pytest.raises(ValueError, match="non-integer"):
        Order.from_json(
            {"id": "1", "customerId": 1, "status": "open", "items": [], "totalCents": 0}
        )


def test_order_event_handler_reads_only_order_created_on_its_topic() -> None:
    from orders_consumer.client import handle_order_event

    order = {
        "id": 1,
        "customerId": 42,
        "status": "open",
        "items": [{"product": "kettle", "quantity": 1, "unitPriceCents": 2999}],
        "totalCents": 2999,
    }
    body = json.dumps({"event": "order_created", "order": order})

    assert handle_order_event(body, {"topic": "orders"}).id == 1
    with pytest.raises(ValueError, match="topic 'orders'"):
        handle_order_event(body, {"topic": "users"})
    with pytest.raises(ValueError, match="order_created"):
        handle_order_event(json.dumps({"event": "x"}), {"topic": "orders"})
