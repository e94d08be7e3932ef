"""Issue 17's target: what rolling back every interaction costs, on SQLite.

The orders workload: an orders service on Flask-SQLAlchemy (customers, orders,
order items, the schema of ``examples/flask_orders``) and a generated V3 pact
of N interactions. Each has ids of its own, so every interaction passes with
or without isolation: a fifth are stateless (``GET /health``), a fifth place
an order (state ``customer C exists``, ``POST /orders``), the rest list a
customer's orders (state ``customer C has 2 orders``: a customer, two orders,
an item each, inserted through the models and committed).

Two contenders, the same app, states and pact:

- ``isolated``: ``states.isolate_database(db)`` (strategy ``"transaction"``);
- ``not isolated``: the same states without it (the rows pile up).

Two measurements, each alternating the contenders within every round (the
order rotated per round), on an in-memory and on a file SQLite database:

- *whole verification*: ``flask --app benchmarks.orders:create_app
  pact-verify PACT``, a fresh process timed from spawn to exit;
- *app side*: the same state calls and requests sent through the app's test
  client in one process, timed around the loop: the verifier's ~10 ms per
  interaction, and its noise on a shared machine, left out.

Run ``python -m benchmarks.orders [--rounds 5] [--size 1000]`` (``--quick``:
the app side only, 3 rounds of 500; ``python -m benchmarks`` runs that): it
prints the medians, the per-round differences, and the isolation's cost per
interaction (the difference of the medians over N) against the target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from flask import Flask, request
from flask.typing import ResponseReturnValue
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from benchmarks import targets
from flask_pact_states import PactStates
from flask_pact_states.provider.state import get_app_states

#: This module's import name (``__name__`` is ``__main__`` under ``-m``).
_MODULE: Final = "benchmarks.orders"
CONSUMER: Final = "OrdersBenchClient"
PROVIDER: Final = "OrdersBench"
ISOLATE_ENV: Final = "BENCH_ORDERS_ISOLATE"
DATABASE_ENV: Final = "BENCH_ORDERS_DATABASE"
_ROOT: Final = Path(__file__).resolve().parent.parent
_URL: Final = "/_pact/provider_states"


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
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customer.id"))
    items: Mapped[list[OrderItem]] = relationship()


class OrderItem(Model):
    __tablename__ = "order_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"))
    product: Mapped[str]


def make_states(*, isolate: bool) -> PactStates:
    """The workload's states, with or without ``isolate_database``."""
    states = PactStates()
    if isolate:
        states.isolate_database(db)

    @states.register("customer {customer_id:int} exists")
    def customer_exists(customer_id: int) -> None:
        db.session.add(Customer(id=customer_id, name=f"customer {customer_id}"))
        db.session.commit()

    @states.register("customer {customer_id:int} has {count:int} orders")
    def customer_has_orders(customer_id: int, count: int) -> None:
        db.session.add(Customer(id=customer_id, name=f"customer {customer_id}"))
        for _ in range(count):
            order = Order(customer_id=customer_id)
            order.items.append(OrderItem(product="teapot"))
            db.session.add(order)
        db.session.commit()

    return states


def _views(app: Flask) -> None:
    @app.get("/health")
    def health() -> ResponseReturnValue:
        return {"status": "ok"}

    @app.get("/customers/<int:customer_id>/orders")
    def customer_orders(customer_id: int) -> ResponseReturnValue:
        query = sa.select(Order).where(Order.customer_id == customer_id)
        orders = db.session.scalars(query.order_by(Order.id))
        return {"orders": [[i.product for i in order.items] for order in orders]}

    @app.post("/orders")
    def create_order() -> ResponseReturnValue:
        body = request.get_json()
        order = Order(customer_id=body["customerId"])
        order.items.append(OrderItem(product=body["item"]))
        db.session.add(order)
        db.session.commit()
        return {"customerId": order.customer_id, "item": body["item"]}, 201


def build_app(*, isolate: bool, database: str) -> Flask:
    """The orders app on ``database`` (a SQLAlchemy URL), tables created."""
    app = Flask("orders_bench")
    app.testing = True
    app.config.update(SQLALCHEMY_DATABASE_URI=database, PACT_STATES_PROVIDER=PROVIDER)
    db.init_app(app)
    _views(app)
    make_states(isolate=isolate).init_app(app)
    with app.app_context():
        db.create_all()
    return app


def create_app() -> Flask:
    """For ``flask pact-verify``: the contender from ``BENCH_ORDERS_ISOLATE``."""
    isolate = os.environ.get(ISOLATE_ENV, "1") == "1"
    return build_app(isolate=isolate, database=os.environ[DATABASE_ENV])


def interactions(size: int) -> list[dict[str, Any]]:
    """The pact's interactions: ids of their own, so order does not matter."""
    result: list[dict[str, Any]] = []
    for index in range(size):
        customer = index + 1
        kind = index % 5
        if kind == 0:
            states: list[str] = []
            req: dict[str, Any] = {"method": "GET", "path": "/health"}
            res: dict[str, Any] = {"status": 200, "body": {"status": "ok"}}
        elif kind == 1:
            states = [f"customer {customer} exists"]
            body = {"customerId": customer, "item": "kettle"}
            req = {"method": "POST", "path": "/orders", "body": body}
            req["headers"] = {"Content-Type": "application/json"}
            res = {"status": 201, "body": body}
        else:
            states = [f"customer {customer} has 2 orders"]
            req = {"method": "GET", "path": f"/customers/{customer}/orders"}
            res = {"status": 200, "body": {"orders": [["teapot"], ["teapot"]]}}
        result.append(
            {
                "description": f"interaction {index:06d}",
                "providerStates": [{"name": name} for name in states],
                "request": req,
                "response": {**res, "headers": {"Content-Type": "application/json"}},
            }
        )
    return result


def write_pact(directory: Path, size: int) -> Path:
    """A V3 pact of ``size`` interactions."""
    document = {
        "consumer": {"name": CONSUMER},
        "provider": {"name": PROVIDER},
        "interactions": interactions(size),
        "metadata": {"pactSpecification": {"version": "3.0.0"}},
    }
    path = directory / f"{CONSUMER}-{PROVIDER}-{size}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _state_call(client: Any, action: str, state: str) -> None:
    body = {"action": action, "state": state, "params": {}}
    response = client.post(_URL, json=body)
    assert response.status_code == 200, response.get_json()


def app_side(isolate: bool, database: str, size: int) -> float:
    """Seconds to send the workload's state calls and requests to the app,
    as the verifier would (setup, request, teardown), in this process."""
    app = build_app(isolate=isolate, database=database)
    client = app.test_client()
    started = time.perf_counter()
    for interaction in interactions(size):
        names = [state["name"] for state in interaction["providerStates"]] or [""]
        for name in names:
            _state_call(client, "setup", name)
        req = interaction["request"]
        response = client.open(req["path"], method=req["method"], json=req.get("body"))
        assert response.status_code == interaction["response"]["status"]
        for name in names:
            _state_call(client, "teardown", name)
    elapsed = time.perf_counter() - started
    get_app_states(app).close()
    with app.app_context():
        db.engine.dispose()
    return elapsed


def _run(command: Sequence[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command,
        check=True,
        env={**os.environ, "PACT_DO_NOT_TRACK": "true", **env},
        stdout=subprocess.DEVNULL,
        cwd=_ROOT,
    )
    return time.perf_counter() - start


def _databases(directory: Path) -> dict[str, Callable[[str], str]]:
    """Each kind of SQLite database: a fresh URL per sample."""

    def file_url(label: str) -> str:
        path = directory / f"{label}-{time.monotonic_ns()}.db"
        return f"sqlite:///{path}"

    return {"memory": lambda label: "sqlite://", "file": file_url}


def measure(size: int, rounds: int, *, whole: bool = True) -> dict[str, list[float]]:
    """Every sample: ``"<measurement>/<database>/<contender>"`` -> seconds.

    :param whole: time whole verifications too, not just the app side.
    """
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        verify = [sys.executable, "-m", "flask", "--app", f"{_MODULE}:create_app"]
        verify += ["pact-verify", str(write_pact(directory, size))]
        contenders = [("isolated", True), ("not isolated", False)]
        for _, isolate in contenders:  # warm-up: mapper set-up, statement caches
            app_side(isolate, "sqlite://", 50)
        for round_number in range(rounds):
            order = contenders[round_number % 2 :] + contenders[: round_number % 2]
            for database, url in _databases(directory).items():
                for name, isolate in order:
                    key = f"{database}/{name}"
                    seconds = app_side(isolate, url(name), size)
                    samples.setdefault(f"app side/{key}", []).append(seconds)
                    if not whole:
                        continue
                    env = {ISOLATE_ENV: "1" if isolate else "0"}
                    env[DATABASE_ENV] = url(name)
                    seconds = _run(verify, env)
                    samples.setdefault(f"whole verification/{key}", []).append(seconds)
    return samples


def report(size: int, samples: dict[str, list[float]]) -> None:
    """Medians, and the isolation's cost per interaction against the target
    (at most 1 ms per interaction over the same states without isolation)."""
    print(f"N = {size}, {len(next(iter(samples.values())))} rounds")
    for key in sorted({sample.rpartition("/")[0] for sample in samples}):
        on, off = samples[f"{key}/isolated"], samples[f"{key}/not isolated"]
        median_on, median_off = statistics.median(on), statistics.median(off)
        per_round = [(a - b) / size * 1000 for a, b in zip(on, off, strict=True)]
        cost = (median_on - median_off) / size * 1000
        print(
            f"  {key.replace('/', ', SQLite ')}: isolated {median_on:.2f} s, not"
            f" isolated {median_off:.2f} s; per round"
            f" {' '.join(f'{value:+.3f}' for value in per_round)} ms"
        )
        name = f"    isolation cost per interaction ({key})"
        print(targets.at_most(name, cost, 1.0, " ms"))
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m benchmarks.orders [--rounds N] [--size N]``.

    ``--quick`` (what ``make bench`` runs): the app side only, 3 rounds of 500.
    """
    parser = argparse.ArgumentParser(prog="python -m benchmarks.orders")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args(argv)
    if options.quick:
        report(500, measure(500, 3, whole=False))
    else:
        report(options.size, measure(options.size, options.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
