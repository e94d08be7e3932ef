"""A small client for the orders API, built on :mod:`urllib` only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Line:
    """One line of an order: a product and how many."""

    product: str
    quantity: int
    unit_price_cents: int = 0


@dataclass(frozen=True)
class Order:
    """An order as the consumer sees it."""

    id: int
    customer_id: int
    status: str
    lines: tuple[Line, ...]
    total_cents: int

    @classmethod
    def from_json(cls, data: Any) -> Order:
        """Build an order from the provider's JSON.

        :raises ValueError: when a field is missing or of the wrong type.
        """
        try:
            lines = tuple(
                Line(line["product"], line["quantity"], line["unitPriceCents"])
                for line in data["items"]
            )
            order = cls(
                data["id"],
                data["customerId"],
                data["status"],
                lines,
                data["totalCents"],
            )
        except (KeyError, TypeError) as error:
            msg = f"The order {data!r} lacks a field or has one of the wrong type."
            raise ValueError(msg) from error
        if not all(isinstance(n, int) for n in (order.id, order.total_cents)):
            msg = f"The order {data!r} has a non-integer id or total."
            raise ValueError(msg)
        return order


@dataclass(frozen=True)
class Customer:
    """A customer as the consumer sees it."""

    id: int
    name: str


def handle_order_event(
    body: str | bytes | None, metadata: Mapping[str, object]
) -> Order:
    """Read an ``order_created`` event from the orders service's topic.

    :param body: the message body (JSON).
    :param metadata: the message metadata; ``topic`` must be ``orders``.
    :returns: the order the event is about.
    :raises ValueError: for another topic, event or a malformed order.
    """
    if metadata.get("topic") != "orders":
        msg = f"Expected an event on topic 'orders', got {metadata!r}."
        raise ValueError(msg)
    event = json.loads(body or b"null")
    if not isinstance(event, dict) or event.get("event") != "order_created":
        msg = f"Expected an order_created event, got {event!r}."
        raise ValueError(msg)
    return Order.from_json(event.get("order"))


class OrdersClient:
    """Talk to the orders API at ``base_url``.

    :param base_url: where the API lives, e.g. ``"http://127.0.0.1:5000"``.
    :param timeout: seconds to wait for each response.
    """

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def healthy(self) -> bool:
        """Whether the service says it is up."""
        return bool(self._json("GET", "/health").get("status") == "ok")

    def get_customer(self, customer_id: int) -> Customer | None:
        """A customer, or ``None`` when the provider has no such customer."""
        try:
            data = self._json("GET", f"/customers/{customer_id}")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                error.close()
                return None
            raise
        return Customer(data["id"], data["name"])

    def customer_orders(self, customer_id: int) -> list[Order]:
        """Every order of a customer, oldest first."""
        data = self._json("GET", f"/customers/{customer_id}/orders")
        return [Order.from_json(order) for order in data["orders"]]

    def get_order(self, order_id: int) -> Order:
        """One order with its lines."""
        return Order.from_json(self._json("GET", f"/orders/{order_id}"))

    def open_orders(self) -> list[Order]:
        """Every open order."""
        data = self._json("GET", "/orders?status=open")
        return [Order.from_json(order) for order in data["orders"]]

    def place_order(self, customer_id: int, lines: list[Line]) -> Order:
        """Place an order; the provider prices it."""
        items = [{"product": line.product, "quantity": line.quantity} for line in lines]
        payload = {"customerId": customer_id, "items": items}
        return Order.from_json(self._json("POST", "/orders", payload))

    def cancel_order(self, order_id: int) -> Order:
        """Cancel an open order."""
        return Order.from_json(self._json("POST", f"/orders/{order_id}/cancel"))

    def _json(
        self, method: str, path: str, payload: dict[str, Any] | None = None
    ) -> Any:
        data = None
        headers = {"Accept": "application/json"}
        if payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=headers, method=method
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read())
