"""Provider states of the orders service, and the test-only app that mounts them.

Run the verification with::

    flask --app orders_provider_tests.states:create_test_app pact-verify pacts

States insert real rows through the models and commit, as the app would.
``states.isolate_database(db)`` wraps every interaction in one transaction per
engine, joined by the app's sessions with savepoints, and rolls it back when
the interaction ends: the rows of its states, and those its request wrote
(``POST /orders``), are gone before the next interaction begins.
``reset_sequences=True`` also puts PostgreSQL's id sequences back, which a
rollback leaves advanced; on SQLite it has nothing to do.
"""

from __future__ import annotations

import os

from flask import Flask, current_app
from orders_provider.app import PRICES, create_app, database_url
from orders_provider.models import Customer, Order, OrderItem, db

from flask_pact_states import Message, PactStates, capture

states = PactStates()
states.isolate_database(db, reset_sequences=True)


@states.register("customer {customer_id:int} exists")
def customer_exists(customer_id: int, name: str = "Verna Hampton") -> None:
    """One customer with the id from the state name (``name`` from params)."""
    db.session.add(Customer(id=customer_id, name=name))
    db.session.commit()


@states.register("customer {customer_id:int} doesn't exist")
def customer_missing(customer_id: int) -> None:
    """Nothing to do: every interaction starts from the database as it was."""


@states.register("no orders")
def no_orders() -> None:
    """Nothing to do either: orders of earlier interactions are rolled back."""


@states.register("a customer with {count:int} orders")
def customer_with_orders(count: int, name: str) -> dict[str, int]:
    """A customer whose id the database picks: the answer tells the verifier,
    which puts it into the request path (``/customers/${customerId}/orders``)."""
    customer = Customer(name=name)
    for _ in range(count):
        customer.orders.append(Order(items=[_line("teapot", 1)]))
    db.session.add(customer)
    db.session.commit()
    return {"customerId": customer.id}


@states.register("customer {customer_id:int} has order {order_id:int} with 2 items")
def customer_has_order(customer_id: int, order_id: int) -> None:
    """An open order of a kettle and two toasters, for the customer that the
    interaction's first state made (or a new one)."""
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        customer = Customer(id=customer_id, name="Verna Hampton")
    items = [_line("kettle", 1), _line("toaster", 2)]
    db.session.add(Order(id=order_id, customer=customer, items=items))
    db.session.commit()


def _line(product: str, quantity: int) -> OrderItem:
    return OrderItem(
        product=product, quantity=quantity, unit_price_cents=PRICES[product]
    )


@states.message("an order created event")
def order_created() -> Message:
    """The event the real ``POST /orders`` publishes (customer 42 is in place:
    the interaction's state), captured instead of sent."""
    with capture("orders_provider.events.publish") as sent:
        response = current_app.test_client().post(
            "/orders",
            json={"customerId": 42, "items": [{"product": "kettle", "quantity": 1}]},
        )
    assert response.status_code == 201, response.get_data(as_text=True)
    topic, event = sent.args
    return Message(event, metadata={"topic": topic})


def create_test_app() -> Flask:
    """The orders app in testing mode, with the provider-state endpoint.

    An in-memory SQLite database unless ``DATABASE_URL`` is set
    (Flask-SQLAlchemy shares one connection across threads for it).
    """
    url = database_url() if os.environ.get("DATABASE_URL") else "sqlite://"
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "PACT_STATES_PROVIDER": "OrderService",
        }
    )
    states.init_app(app)
    return app
