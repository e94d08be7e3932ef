"""The orders API: an application factory and the ``orders`` blueprint.

Views use ``db.session`` only, and ``commit()`` as any app does: under
``isolate_database`` each commit becomes a savepoint of the interaction's
transaction, rolled back when the interaction ends.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from orders_provider import events
from orders_provider.models import Customer, Order, OrderItem, db

orders = Blueprint("orders", __name__)

#: Prices the service charges, in cents.
PRICES: dict[str, int] = {"kettle": 2999, "toaster": 4599, "teapot": 1850}


def database_url() -> str:
    """``DATABASE_URL`` (``postgresql://`` runs on psycopg 3), else SQLite.

    :returns: a SQLAlchemy URL.
    """
    url = os.environ.get("DATABASE_URL") or "sqlite:///orders.db"
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.partition("://")[2]
    return url


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the orders API.

    :param config: Flask config applied over the defaults, for example
        ``{"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}``.
    :returns: the app, its tables created.
    """
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url()
    if config is not None:
        app.config.from_mapping(config)
    db.init_app(app)
    app.register_blueprint(orders)
    with app.app_context():
        db.create_all()
    return app


def _error(status: int, message: str) -> ResponseReturnValue:
    return jsonify({"error": message}), status


@orders.get("/health")
def health() -> ResponseReturnValue:
    """Whether the service is up."""
    return jsonify({"status": "ok"})


@orders.get("/customers/<int:customer_id>")
def get_customer(customer_id: int) -> ResponseReturnValue:
    """One customer, or a JSON 404."""
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        return _error(404, f"Customer {customer_id} does not exist.")
    return jsonify(customer.to_json())


@orders.get("/customers/<int:customer_id>/orders")
def customer_orders(customer_id: int) -> ResponseReturnValue:
    """Every order of a customer, oldest first."""
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        return _error(404, f"Customer {customer_id} does not exist.")
    return jsonify({"orders": [order.to_json() for order in customer.orders]})


@orders.get("/orders")
def list_orders() -> ResponseReturnValue:
    """Orders, oldest first; ``?status=open`` keeps the open ones."""
    query = sa.select(Order).order_by(Order.id)
    if "status" in request.args:
        query = query.where(Order.status == request.args["status"])
    return jsonify({"orders": [order.to_json() for order in db.session.scalars(query)]})


@orders.get("/orders/<int:order_id>")
def get_order(order_id: int) -> ResponseReturnValue:
    """One order with its items, or a JSON 404."""
    order = db.session.get(Order, order_id)
    if order is None:
        return _error(404, f"Order {order_id} does not exist.")
    return jsonify(order.to_json())


@orders.post("/orders")
def create_order() -> ResponseReturnValue:
    """Place an order: ``{"customerId": 1, "items": [{"product", "quantity"}]}``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return _error(400, "Send a JSON object with 'customerId' and 'items'.")
    customer = db.session.get(Customer, body.get("customerId"))
    if customer is None:
        return _error(404, f"Customer {body.get('customerId')!r} does not exist.")
    items = [_item(line) for line in body["items"]]
    if not items or None in items:
        return _error(400, f"Order known products ({', '.join(PRICES)}), 1 or more.")
    order = Order(customer=customer, items=items)
    db.session.add(order)
    db.session.commit()
    events.publish("orders", {"event": "order_created", "order": order.to_json()})
    location = url_for("orders.get_order", order_id=order.id)
    return jsonify(order.to_json()), 201, {"Location": location}


def _item(line: Any) -> OrderItem | None:
    if not isinstance(line, dict) or line.get("product") not in PRICES:
        return None
    quantity = line.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        return None
    product = line["product"]
    return OrderItem(
        product=product, quantity=quantity, unit_price_cents=PRICES[product]
    )


@orders.post("/orders/<int:order_id>/cancel")
def cancel_order(order_id: int) -> ResponseReturnValue:
    """Cancel an open order; 409 when it is not open."""
    order = db.session.get(Order, order_id)
    if order is None:
        return _error(404, f"Order {order_id} does not exist.")
    if order.status != "open":
        return _error(409, f"Order {order_id} is {order.status}, not open.")
    order.status = "cancelled"
    db.session.commit()
    return jsonify(order.to_json())
