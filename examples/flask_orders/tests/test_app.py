"""The orders app on its own, on an in-memory SQLite database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from orders_provider.app import create_app, database_url
from orders_provider.models import Customer, Order, OrderItem, db


@pytest.fixture
def app() -> Iterator[Flask]:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        customer = Customer(id=42, name="Joyce Aguilar")
        item = OrderItem(product="kettle", quantity=2, unit_price_cents=2999)
        db.session.add(Order(id=7, customer=customer, items=[item]))
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_database_url_defaults_to_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)

    assert database_url() == "sqlite:///orders.db"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_database_url_runs_postgresql_on_psycopg(
    monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"{scheme}://u:p@127.0.0.1/orders")

    assert database_url() == "postgresql+psycopg://u:p@127.0.0.1/orders"


def test_health_says_ok(client: FlaskClient) -> None:
    assert client.get("/health").json == {"status": "ok"}


def test_get_customer_and_unknown_customer(client: FlaskClient) -> None:
    assert client.get("/customers/42").json == {"id": 42, "name": "Joyce Aguilar"}
    missing = client.get("/customers/9")
    assert missing.status_code == 404
    assert missing.json == {"error": "Customer 9 does not exist."}


def test_get_order_has_items_and_total(client: FlaskClient) -> None:
    assert client.get("/orders/7").json == {
        "id": 7,
        "customerId": 42,
        "status": "open",
        "items": [{"product": "kettle", "quantity": 2, "unitPriceCents": 2999}],
        "totalCents": 5998,
    }


def test_create_order_prices_the_items(client: FlaskClient) -> None:
    body = {"customerId": 42, "items": [{"product": "teapot", "quantity": 3}]}

    response = client.post("/orders", json=body)

    assert response.status_code == 201
    assert response.json is not None
    assert response.json["totalCents"] == 3 * 1850
    assert response.headers["Location"] == f"/orders/{response.json['id']}"
    assert len(client.get("/customers/42/orders").json["orders"]) == 2  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ([1], 400),
        ({"customerId": 42}, 400),
        ({"customerId": 9, "items": []}, 404),
        ({"customerId": 42, "items": []}, 400),
        ({"customerId": 42, "items": [{"product": "anvil"}]}, 400),
        ({"customerId": 42, "items": [{"product": "kettle", "quantity": 0}]}, 400),
        ({"customerId": 42, "items": [{"product": "kettle", "quantity": True}]}, 400),
    ],
)
def test_create_order_rejects_bad_orders(
    client: FlaskClient, body: object, status: int
) -> None:
    assert client.post("/orders", json=body).status_code == status


def test_cancel_order_once(client: FlaskClient) -> None:
    first = client.post("/orders/7/cancel")
    again = client.post("/orders/7/cancel")

    assert first.json is not None
    assert first.json["status"] == "cancelled"
    assert again.status_code == 409
    assert client.post("/orders/8/cancel").status_code == 404


def test_list_orders_filters_by_status(client: FlaskClient) -> None:
    client.post("/orders/7/cancel")
    client.post("/orders", json={"customerId": 42, "items": [{"product": "kettle"}]})

    every = client.get("/orders").json
    open_ = client.get("/orders?status=open").json

    assert every is not None
    assert open_ is not None
    assert [o["status"] for o in every["orders"]] == ["cancelled", "open"]
    assert [o["status"] for o in open_["orders"]] == ["open"]
    assert client.get("/customers/9/orders").status_code == 404
    assert client.get("/orders/9").status_code == 404
