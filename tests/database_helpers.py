"""Real databases for the isolation tests: SQLite (a file, in memory) and
PostgreSQL, a Flask-SQLAlchemy app with two binds, and a plain SQLAlchemy app
with a ``scoped_session``.

PostgreSQL comes from ``PACT_STATES_TEST_POSTGRES_URL`` (``.ci/postgres.sh``
starts the machine's server and prints one); without it, or when it does not
answer, those tests skip and say why. Each PostgreSQL test gets a schema of its
own (``search_path``), dropped afterwards, so runs never see each other's rows.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import pytest
import sqlalchemy as sa
from flask import Flask, request
from flask.testing import FlaskClient
from flask.typing import ResponseReturnValue
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    scoped_session,
    sessionmaker,
)
from sqlalchemy.pool import StaticPool
from werkzeug.test import TestResponse

from flask_pact_states import PactStates
from flask_pact_states.provider.state import get_app_states

URL: Final = "/_pact/provider_states"
T = TypeVar("T")
POSTGRES_ENV: Final = "PACT_STATES_TEST_POSTGRES_URL"
BACKENDS: Final = ("sqlite-file", "sqlite-memory", "postgres")
_MEMORY_OPTIONS: Final = {
    "poolclass": StaticPool,
    "connect_args": {"check_same_thread": False},
}


@functools.cache
def postgres_url() -> str | None:
    """The SQLAlchemy URL of the test server, or None; see :func:`require_postgres`."""
    return _postgres()[0]


@functools.cache
def _postgres() -> tuple[str | None, str]:
    raw = os.environ.get(POSTGRES_ENV)
    if not raw:
        return None, f"{POSTGRES_ENV} is not set (bash .ci/postgres.sh prints one)"
    url = sa.make_url(raw).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as error:
        first = str(error.orig).strip().splitlines()[0]
        return None, f"PostgreSQL at {POSTGRES_ENV} does not answer: {first}"
    finally:
        engine.dispose()
    return url.render_as_string(hide_password=False), ""


def require_postgres() -> str:
    """The PostgreSQL URL, or skip the test saying why there is none."""
    url, reason = _postgres()
    if url is None:
        pytest.skip(reason)
    return url


@dataclass
class Backend:
    """One database server kind, with a second database for a second bind."""

    name: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    second_url: str = ""

    def engine(self, *, second: bool = False) -> sa.Engine:
        """A new engine (the test disposes it)."""
        return sa.create_engine(self.second_url if second else self.url, **self.options)

    def bind_config(self, *, second: bool = False) -> dict[str, Any]:
        """An entry of ``SQLALCHEMY_BINDS``."""
        return {"url": self.second_url if second else self.url, **self.options}


@contextmanager
def make_backend(name: str, tmp_path: Path) -> Iterator[Backend]:
    """A fresh, empty database of kind ``name`` (see :data:`BACKENDS`)."""
    if name == "sqlite-file":
        yield Backend(
            name,
            f"sqlite:///{tmp_path / 'main.db'}",
            {},
            f"sqlite:///{tmp_path / 'second.db'}",
        )
    elif name == "sqlite-memory":
        yield Backend(name, "sqlite://", dict(_MEMORY_OPTIONS), "sqlite://")
    else:
        with _postgres_schema(require_postgres()) as backend:
            yield backend


@contextmanager
def _postgres_schema(url: str) -> Iterator[Backend]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        options = {"connect_args": {"options": f"-csearch_path={schema}"}}
        yield Backend("postgres", url, options, url)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


# State calls and requests, each on a thread of its own as a server runs them.


def in_thread(func: Callable[[], T]) -> T:
    """Run ``func`` on a new thread, as a server would, and return its result."""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(func())
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the call did not finish"
    if errors:
        raise errors[0]
    return results[0]


def state(client: FlaskClient, name: str, action: str = "setup") -> TestResponse:
    """Send a Rust-verifier state call for ``name`` on a thread of its own."""
    body = {"action": action, "state": name, "params": {}}
    return in_thread(lambda: client.post(URL, json=body))


# A Flask-SQLAlchemy app: customers and orders on the default bind, an audit
# log on the "audit" bind.


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:  # mypy cannot see db.Model as a class
    Model = Base
else:
    Model = db.Model


class Customer(Model):
    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Order(Model):
    __tablename__ = "order_"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customer.id"))
    item: Mapped[str]
    customer: Mapped[Customer] = relationship()


class AuditEntry(Model):
    __tablename__ = "audit_entry"
    __bind_key__ = "audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str]


def orders_app(states: PactStates, backend: Backend, **config: Any) -> Flask:
    """A testing app on ``db`` with both binds, its tables created, and views
    listing and creating orders (each new order writes an audit entry too)."""
    app = Flask("orders_provider")
    app.testing = True
    app.config.update(
        SQLALCHEMY_DATABASE_URI=backend.url,
        SQLALCHEMY_ENGINE_OPTIONS=backend.options,
        SQLALCHEMY_BINDS={"audit": backend.bind_config(second=True)},
        **config,
    )
    db.init_app(app)
    states.init_app(app)
    app.add_url_rule("/orders", view_func=_list_orders)
    app.add_url_rule("/orders", view_func=_create_order, methods=["POST"])
    with app.app_context():
        db.create_all()
    return app


def _list_orders() -> ResponseReturnValue:
    orders = db.session.scalars(sa.select(Order).order_by(Order.id))
    audit = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    return {"orders": [order.item for order in orders], "audit": audit}


def _create_order() -> ResponseReturnValue:
    body = request.get_json(silent=True) or {}
    customer = db.session.scalar(sa.select(Customer).order_by(Customer.id))
    if customer is None:
        customer = Customer(name="walk-in")
        db.session.add(customer)
    order = Order(customer=customer, item=body.get("item", "kettle"))
    db.session.add_all([order, AuditEntry(message=f"ordered {order.item}")])
    db.session.commit()
    return {"id": order.id, "item": order.item}, 201


def register_order_states(states: PactStates) -> None:
    """The states of the orders app; ``broken`` always fails."""

    @states.register("no orders")
    def no_orders() -> None: ...

    @states.register("customer {name} has {count:int} orders")
    def customer_has_orders(name: str, count: int) -> dict[str, int]:
        customer = Customer(name=name)
        orders = [Order(customer=customer, item=f"item {n}") for n in range(count)]
        db.session.add_all([customer, *orders])
        db.session.commit()  # as the app would: a savepoint under isolation
        return {"customerId": customer.id}

    @states.register("an audit entry exists")
    def audit_entry() -> None:
        db.session.add(AuditEntry(message="seen"))
        db.session.commit()

    @states.register("broken")
    def broken() -> None:
        raise LookupError("the broken state")


def close_app(app: Flask) -> None:
    """Undo what is still held, drop the tables and dispose of the engines."""
    get_app_states(app).close()
    with app.app_context():
        db.session.remove()
        db.drop_all()
        for engine in db.engines.values():
            engine.dispose()


def rows(app: Flask) -> dict[str, int]:
    """How many rows each table has, read on connections of their own."""
    counts: dict[str, int] = {}
    with app.app_context():
        for key, metadata in db.metadatas.items():
            with db.engines[key].connect() as connection:
                for table in metadata.tables.values():
                    count = sa.select(sa.func.count()).select_from(table)
                    counts[table.name] = connection.scalar(count) or 0
    return counts


# A plain SQLAlchemy 2 app: its own declarative base, a scoped_session.


class PlainBase(DeclarativeBase):
    pass


class Item(PlainBase):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


def plain_session(engine: sa.Engine) -> scoped_session[Session]:
    """A thread-local scoped_session over ``engine``, tables created."""
    PlainBase.metadata.create_all(engine)
    return scoped_session(sessionmaker(bind=engine))


def plain_app(states: PactStates, session: scoped_session[Session]) -> Flask:
    """Items listed and created through ``session``, removed after each request."""
    app = Flask("plain_provider")
    app.testing = True
    states.init_app(app)

    @app.get("/items")
    def list_items() -> ResponseReturnValue:
        return {"items": list(session.scalars(sa.select(Item.name).order_by(Item.id)))}

    @app.post("/items")
    def create_item() -> ResponseReturnValue:
        item = Item(name=(request.get_json(silent=True) or {}).get("name", "kettle"))
        session.add(item)
        session.commit()
        return {"id": item.id, "name": item.name}, 201

    @app.teardown_appcontext
    def remove_session(error: BaseException | None) -> None:
        session.remove()

    return app


def count_items(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(Item)) or 0
