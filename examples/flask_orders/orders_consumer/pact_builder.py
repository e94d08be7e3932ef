"""The pact between ``OrdersClient`` and ``OrderService``, in one place.

Each interaction gets a :class:`~pact.Pact` of its own (pact-python 4 freezes a
pact once its mock server has started, and two interactions send the same
request in different states). Pacts written one after another to one directory
merge into one file, sorted by description: that is also the order in which
the verifier replays them, so "a request to create an order" comes before "a
request to list open orders", which expects none; only isolation between
interactions lets that pass.

The consumer tests and ``python -m orders_consumer.write_pact`` both build
their pacts here, which is what lets ``test_pact_drift`` compare the committed
file with a fresh one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pact import Pact, generate, match
from pact.match.matcher import GenericMatcher

from orders_consumer.client import Line, OrdersClient, handle_order_event

T = TypeVar("T")

CONSUMER = "OrdersClient"
PROVIDER = "OrderService"
PACT_FILE_NAME = f"{CONSUMER}-{PROVIDER}.json"
PACT_DIR = Path(__file__).resolve().parent.parent / "pacts"
"""Where the committed pact lives: ``examples/flask_orders/pacts``."""
PACT_OUTPUT_DIR_ENV = "PACT_OUTPUT_DIR"

HEALTH = "a health check"
GET_CUSTOMER = "a request for customer 42"
GET_UNKNOWN_CUSTOMER = "a request for an unknown customer"
GET_ORDER = "a request for order 7"
CUSTOMER_ORDERS = "a request for the orders of a new customer"
CANCEL_ORDER = "a request to cancel order 7"
CREATE_ORDER = "a request to create an order"
OPEN_ORDERS = "a request to list open orders"

NEW_CUSTOMER_STATE = "a customer with 2 orders"
ORDER_CREATED_EVENT = "an order created event"
"""A message: what the provider publishes when an order is placed."""
"""Its handler must answer ``{"customerId": <int>}``; see :func:`_customer_orders`."""

_JSON = "application/json"
_ORDER_7_STATES = ("customer 42 exists", "customer 42 has order 7 with 2 items")


def _order(order_id: int, status: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    total = sum(line["quantity"] * line["unitPriceCents"] for line in lines)
    return {
        "id": match.int(order_id),
        "customerId": 42,
        "status": status,
        "items": lines,
        "totalCents": total,
    }


_KETTLE = {"product": "kettle", "quantity": 1, "unitPriceCents": 2999}
_TOASTERS = {"product": "toaster", "quantity": 2, "unitPriceCents": 4599}


def _health(pact: Pact) -> None:
    # No provider state: the verifier still calls the state URL with "".
    (
        pact.upon_receiving(HEALTH)
        .with_request("GET", "/health")
        .will_respond_with(200)
        .with_body({"status": "ok"}, content_type=_JSON)
    )


def _get_customer(pact: Pact) -> None:
    (
        pact.upon_receiving(GET_CUSTOMER)
        .given("customer 42 exists", {"name": "Joyce Aguilar"})
        .with_request("GET", "/customers/42")
        .will_respond_with(200)
        .with_body({"id": 42, "name": "Joyce Aguilar"}, content_type=_JSON)
    )


def _get_unknown_customer(pact: Pact) -> None:
    (
        pact.upon_receiving(GET_UNKNOWN_CUSTOMER)
        .given("customer 42 doesn't exist")
        .with_request("GET", "/customers/42")
        .will_respond_with(404)
    )


def _get_order(pact: Pact) -> None:
    # Two provider states: the customer, then its order.
    interaction = pact.upon_receiving(GET_ORDER)
    for name in _ORDER_7_STATES:
        interaction.given(name)
    (
        interaction.with_request("GET", "/orders/7")
        .will_respond_with(200)
        .with_body(_order(7, "open", [_KETTLE, _TOASTERS]), content_type=_JSON)
    )


def _customer_orders(pact: Pact) -> None:
    """The consumer does not know the id: the provider state chooses it.

    The handler answers ``{"customerId": 5}`` (say); the ``ProviderState``
    generator rewrites the path to ``/customers/5/orders``. The consumer test
    uses the example ``/customers/42/orders``. The list holds exactly the
    state's two orders: a leftover order from another interaction fails it.
    """
    path = GenericMatcher(
        "regex",
        value="/customers/42/orders",
        regex=r"^/customers/\d+/orders$",
        generator=generate.provider_state("/customers/${customerId}/orders"),
    )
    teapot = {"product": "teapot", "quantity": 1, "unitPriceCents": 1850}
    order = {**_order(1, "open", [teapot]), "customerId": match.int(42)}
    (
        pact.upon_receiving(CUSTOMER_ORDERS)
        .given(NEW_CUSTOMER_STATE, {"name": "Ada Lovelace"})
        .with_request("GET", path)
        .will_respond_with(200)
        .with_body({"orders": [order, order]}, content_type=_JSON)
    )


def _cancel_order(pact: Pact) -> None:
    (
        pact.upon_receiving(CANCEL_ORDER)
        .given("customer 42 has order 7 with 2 items")
        .with_request("POST", "/orders/7/cancel")
        .will_respond_with(200)
        .with_body(_order(7, "cancelled", [_KETTLE, _TOASTERS]), content_type=_JSON)
    )


def _create_order(pact: Pact) -> None:
    # The POST writes rows: isolation rolls them back after the interaction.
    (
        pact.upon_receiving(CREATE_ORDER)
        .given("customer 42 exists")
        .with_request("POST", "/orders")
        .with_body(
            {"customerId": 42, "items": [{"product": "kettle", "quantity": 1}]},
            content_type=_JSON,
        )
        .will_respond_with(201)
        .with_body(_order(1, "open", [_KETTLE]), content_type=_JSON)
    )


def _open_orders(pact: Pact) -> None:
    # Exactly no orders: none of the earlier interactions' may be left.
    (
        pact.upon_receiving(OPEN_ORDERS)
        .given("no orders")
        .with_request("GET", "/orders")
        .with_query_parameter("status", "open")
        .will_respond_with(200)
        .with_body({"orders": []}, content_type=_JSON)
    )


@dataclass(frozen=True)
class _Interaction:
    define: Callable[[Pact], None]
    call: Callable[[OrdersClient], object]


_INTERACTIONS: Mapping[str, _Interaction] = {
    HEALTH: _Interaction(_health, lambda client: client.healthy()),
    GET_CUSTOMER: _Interaction(_get_customer, lambda c: c.get_customer(42)),
    GET_UNKNOWN_CUSTOMER: _Interaction(
        _get_unknown_customer, lambda client: client.get_customer(42)
    ),
    GET_ORDER: _Interaction(_get_order, lambda client: client.get_order(7)),
    CUSTOMER_ORDERS: _Interaction(
        _customer_orders, lambda client: client.customer_orders(42)
    ),
    CANCEL_ORDER: _Interaction(_cancel_order, lambda client: client.cancel_order(7)),
    CREATE_ORDER: _Interaction(
        _create_order, lambda client: client.place_order(42, [Line("kettle", 1)])
    ),
    OPEN_ORDERS: _Interaction(_open_orders, lambda client: client.open_orders()),
}

DESCRIPTIONS: tuple[str, ...] = tuple(_INTERACTIONS)
"""Every interaction of the pact, by description."""


def build_pact(description: str) -> Pact:
    """Build a V4 pact holding the one interaction ``description``.

    :raises ValueError: for an unknown description.
    """
    try:
        interaction = _INTERACTIONS[description]
    except KeyError:
        known = ", ".join(repr(name) for name in DESCRIPTIONS)
        msg = f"No interaction is described as {description!r}; known: {known}."
        raise ValueError(msg) from None
    pact = Pact(CONSUMER, PROVIDER).with_specification("V4")
    interaction.define(pact)
    return pact


def exercise(pact: Pact, call: Callable[[OrdersClient], T]) -> T:
    """Run ``call`` with a client pointed at the pact's mock server.

    :raises pact.error.MismatchesError: when the requests did not match.
    """
    with pact.serve(addr="127.0.0.1") as server:
        return call(OrdersClient(str(server.url)))


def call_for(description: str) -> Callable[[OrdersClient], object]:
    """What the consumer does in the interaction ``description``."""
    return _INTERACTIONS[description].call


def build_event_pact() -> Pact:
    """A V4 pact holding the message :data:`ORDER_CREATED_EVENT`, merged into
    the same file as the HTTP interactions (a mixed V4 pact)."""
    pact = Pact(CONSUMER, PROVIDER).with_specification("V4")
    (
        pact.upon_receiving(ORDER_CREATED_EVENT, "Async")
        .given("customer 42 exists")
        .with_body(
            {"event": "order_created", "order": _order(1, "open", [_KETTLE])},
            content_type=_JSON,
        )
        .with_metadata({"topic": "orders"})
    )
    return pact


def verify_event_pact(pact: Pact) -> None:
    """The consumer's side of the message: its handler reads it.

    :raises pact.error.PactVerificationError: when the handler fails.
    """

    def read(body: str | bytes | None, metadata: dict[str, object]) -> None:
        handle_order_event(body, metadata)

    pact.verify(read, "Async")


def write_pact_file(directory: Path | str) -> Path:
    """Exercise every interaction, then write the pact file into ``directory``.

    Nothing is written unless every interaction passed.

    :returns: the path of the written file.
    """
    pacts = []
    for description in DESCRIPTIONS:
        pact = build_pact(description)
        exercise(pact, call_for(description))
        pacts.append(pact)
    events = build_event_pact()
    verify_event_pact(events)
    write_pacts([*pacts, events], directory)
    return Path(directory) / PACT_FILE_NAME


def write_pacts(pacts: list[Pact], directory: Path | str) -> None:
    """Write pacts into one file in ``directory``, replacing what was there."""
    for index, pact in enumerate(pacts):
        # Only the first write replaces the file; later ones merge into it.
        pact.write_file(directory, overwrite=index == 0)


def pact_output_dir(default: Path = PACT_DIR) -> Path:
    """Where to write pacts: ``$PACT_OUTPUT_DIR`` when set, else ``default``."""
    return Path(os.environ.get(PACT_OUTPUT_DIR_ENV) or default)
