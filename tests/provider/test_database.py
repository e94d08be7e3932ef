"""``isolate_database`` with Flask-SQLAlchemy on real databases: SQLite (a file
and in memory) and PostgreSQL (skipped, with the reason, when there is none).

State calls and requests run on threads of their own, as under a real server,
where setup, provider request and teardown each come on another thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from database_helpers import (
    BACKENDS,
    Backend,
    Customer,
    Order,
    close_app,
    db,
    in_thread,
    make_backend,
    orders_app,
    register_order_states,
    rows,
    state,
)
from flask import Flask
from flask.testing import FlaskClient

from flask_pact_states import PactStates
from flask_pact_states.errors import SecondConnectionError
from flask_pact_states.provider.state import get_app_states

EMPTY = {"customer": 0, "order_": 0, "audit_entry": 0}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with make_backend(request.param, tmp_path) as backend:
        yield backend


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[Backend]:
    with make_backend("sqlite-file", tmp_path) as backend:
        yield backend


def make_orders(states: PactStates, backend: Backend, **options: Any) -> Flask:
    states.isolate_database(db, **options)
    register_order_states(states)
    app = orders_app(states, backend)
    with app.app_context():  # a fixture committed before verification stays
        db.session.add(Customer(name="fixture"))
        db.session.commit()
        db.session.remove()
    return app


@pytest.fixture
def orders(states: PactStates, backend: Backend) -> Iterator[Flask]:
    app = make_orders(states, backend)
    yield app
    close_app(app)


@pytest.fixture
def file_orders(states: PactStates, sqlite_file: Backend) -> Iterator[Flask]:
    app = make_orders(states, sqlite_file)
    yield app
    close_app(app)


FIXTURE_ONLY = {**EMPTY, "customer": 1}


def test_isolate_database_rolls_back_states_and_requests(orders: Flask) -> None:
    client = orders.test_client()

    assert state(client, "customer Ann has 2 orders").status_code == 200
    assert state(client, "an audit entry exists").status_code == 200
    created = in_thread(lambda: client.post("/orders", json={"item": "kettle"}))
    listed = in_thread(lambda: client.get("/orders")).get_json()
    state(client, "customer Ann has 2 orders", "teardown")
    state(client, "an audit entry exists", "teardown")

    assert created.status_code == 201
    assert listed == {"orders": ["item 0", "item 1", "kettle"], "audit": 2}
    assert rows(orders) == FIXTURE_ONLY


def _end_by(path: str, app: Flask, client: FlaskClient) -> None:
    if path == "teardown":
        state(client, "customer Ann has 2 orders", "teardown")
    elif path == "next interaction":
        state(client, "")
        listed = in_thread(lambda: client.get("/orders")).get_json()
        assert listed == {"orders": [], "audit": 0}  # seen from inside it
        state(client, "", "teardown")
    elif path == "failed setup":
        assert state(client, "broken").status_code == 422
    elif path == "reset":
        get_app_states(app).reset()
    else:
        get_app_states(app).close()


@pytest.mark.parametrize(
    "path", ["teardown", "next interaction", "failed setup", "reset", "close"]
)
def test_isolate_database_undoes_on_every_path(file_orders: Flask, path: str) -> None:
    client = file_orders.test_client()
    state(client, "customer Ann has 2 orders")
    if path != "failed setup":  # a failed setup ends the interaction before it
        in_thread(lambda: client.post("/orders"))

    _end_by(path, file_orders, client)

    # Read on a connection of its own: it would wait for a transaction still held.
    assert rows(file_orders) == FIXTURE_ONLY


def test_isolate_database_wraps_before_each_and_ends_before_after_each(
    states: PactStates, file_orders: Flask
) -> None:
    seen_after: list[dict[str, int]] = []
    states.before_each(lambda: db.session.add(Customer(name="hook")))
    states.before_each(db.session.commit)
    # rows() opens its own connection: refused while the transaction is held.
    states.after_each(lambda: seen_after.append(rows(file_orders)))
    client = file_orders.test_client()

    state(client, "")
    during = in_thread(lambda: client.post("/orders")).get_json()
    state(client, "", "teardown")

    assert during is not None
    assert during["id"] == 1  # the order went to the first customer: the fixture
    assert seen_after == [FIXTURE_ONLY]


def test_isolate_database_keeps_a_request_rollback_to_its_savepoint(
    orders: Flask,
) -> None:
    @orders.post("/orders/twice")
    def twice() -> dict[str, Any]:
        db.session.add(Order(customer_id=1, item="first"))
        db.session.commit()
        db.session.add(Customer(id=1, name="duplicate key"))
        try:
            db.session.commit()
        except sa.exc.IntegrityError:
            db.session.rollback()
        items = db.session.scalars(sa.select(Order.item)).all()
        return {"items": list(items)}

    client = orders.test_client()
    state(client, "")

    answer = in_thread(lambda: client.post("/orders/twice")).get_json()
    state(client, "", "teardown")

    assert answer == {"items": ["first"]}
    assert rows(orders) == FIXTURE_ONLY


def test_isolate_database_refuses_a_second_connection(orders: Flask) -> None:
    @orders.get("/raw")
    def raw() -> dict[str, int]:
        with db.engine.connect() as connection:
            return {"n": connection.scalar(sa.text("SELECT 1")) or 0}

    client = orders.test_client()
    state(client, "customer Ann has 2 orders")

    with pytest.raises(SecondConnectionError, match="second connection") as caught:
        in_thread(lambda: client.get("/raw"))
    # Refused before any checkout: the interaction's transaction is intact (a
    # StaticPool's one connection would have been reset or closed).
    listed = in_thread(lambda: client.get("/orders")).get_json()
    state(client, "customer Ann has 2 orders", "teardown")

    assert isinstance(caught.value, RuntimeError)
    assert "strategy='truncate'" in str(caught.value)
    assert listed == {"orders": ["item 0", "item 1"], "audit": 0}
    assert rows(orders) == FIXTURE_ONLY
    assert in_thread(lambda: client.get("/raw")).get_json() == {"n": 1}  # released


def test_isolate_database_refuses_a_second_app_at_the_same_time(
    states: PactStates, file_orders: Flask, tmp_path: Path
) -> None:
    with make_backend("sqlite-file", tmp_path / "other") as other_backend:
        (tmp_path / "other").mkdir()
        other = orders_app(states, other_backend)
        try:
            state(file_orders.test_client(), "")
            answer = state(other.test_client(), "").get_json()
        finally:
            close_app(other)

    assert answer["exception"]["type"] == "SecondConnectionError"
    assert "another app" in answer["message"]


@pytest.mark.parametrize("backend", ["sqlite-file", "postgres"], indirect=True)
def test_isolate_database_truncate_empties_every_table_children_first(
    states: PactStates, backend: Backend
) -> None:
    app = make_orders(states, backend, strategy="truncate")

    @app.post("/orders/raw")
    def raw() -> dict[str, bool]:
        # Its own connection and commit: what a transaction cannot wrap.
        with db.engine.begin() as connection:
            connection.execute(sa.insert(Order).values(customer_id=1, item="raw"))
        return {"ok": True}

    client = app.test_client()
    try:
        state(client, "customer Ann has 2 orders")
        in_thread(lambda: client.post("/orders/raw"))
        during = rows(app)
        state(client, "customer Ann has 2 orders", "teardown")
        after = rows(app)
    finally:
        close_app(app)

    assert during == {"customer": 2, "order_": 3, "audit_entry": 0}
    # Every row goes, the fixture's too; PostgreSQL checks the foreign keys.
    assert after == EMPTY


@pytest.mark.parametrize("reset", [True, False])
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_isolate_database_reset_sequences_gives_the_same_ids_again(
    states: PactStates, backend: Backend, reset: bool
) -> None:
    app = make_orders(states, backend, reset_sequences=reset)
    client = app.test_client()
    ids = []
    try:
        for _ in range(2):
            state(client, "")
            ids.append(in_thread(lambda: client.post("/orders")).get_json()["id"])
            state(client, "", "teardown")
    finally:
        close_app(app)

    # Rolled back, the rows are gone, but PostgreSQL's sequences moved on.
    assert (ids[0] == ids[1]) is reset


def test_isolate_database_on_an_app_without_the_database_says_so(
    states: PactStates,
) -> None:
    states.isolate_database(db)
    app = Flask("no_database")  # db.init_app(app) forgotten
    app.testing = True
    states.init_app(app)

    answer = state(app.test_client(), "")

    assert answer.status_code == 422
    assert "init_app" in answer.get_json()["message"]
    assert get_app_states(app).lifecycle.interaction is None
