"""The leak test with the real Pact verifier: interaction A's POST creates an
order, interaction B lists the orders and expects none.

Through ``verify()``, ``flask pact-verify``, and pact-python's own
``Verifier`` against the blueprint (teardown on and off); on SQLite (a file,
in memory) and PostgreSQL; with Flask-SQLAlchemy (two binds: each order
writes an audit entry on the second) and plain SQLAlchemy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from database_helpers import (
    BACKENDS,
    Backend,
    Customer,
    close_app,
    count_items,
    db,
    make_backend,
    orders_app,
    plain_app,
    plain_session,
    register_order_states,
    rows,
)
from flask import Flask
from pact import Verifier
from serving_helpers import served
from verify_helpers import hand_pact

from flask_pact_states import PactStates, verify
from flask_pact_states.cli import pact_verify_command
from flask_pact_states.provider.state import get_app_states
from flask_pact_states.runner.process import minimal_trust_store

pytestmark = pytest.mark.e2e

URL = "/_pact/provider_states"
FIXTURE_ONLY = {"customer": 1, "order_": 0, "audit_entry": 0}
CREATE = "A: a request to create an order"
LIST = "B: a request to list the orders"


def _interaction(
    description: str, request: dict[str, Any], status: int, body: Any, *states: str
) -> dict[str, Any]:
    return {
        "description": description,
        "providerStates": [{"name": name} for name in states or ["no orders"]],
        "request": request,
        "response": {"status": status, "body": body},
    }


CREATE_ORDER = _interaction(
    CREATE,
    {
        "method": "POST",
        "path": "/orders",
        "headers": {"Content-Type": "application/json"},
        "body": {"item": "kettle"},
    },
    201,
    {"item": "kettle"},
)
LIST_NONE = _interaction(
    LIST, {"method": "GET", "path": "/orders"}, 200, {"orders": [], "audit": 0}
)


def leak_pact(tmp_path: Path, *middle: dict[str, Any]) -> Path:
    """A then (``middle``) then B, in this order."""
    interactions = [CREATE_ORDER, *middle, LIST_NONE]
    return hand_pact(tmp_path / "leak.json", interactions, "Web", "Orders")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with make_backend(request.param, tmp_path) as backend:
        yield backend


def make_app(states: PactStates, backend: Backend, *, isolate: bool = True) -> Flask:
    if isolate:
        states.isolate_database(db)
    register_order_states(states)
    app = orders_app(states, backend)
    with app.app_context():  # data from before the verification stays
        db.session.add(Customer(name="fixture"))
        db.session.commit()
        db.session.remove()
    return app


@pytest.fixture
def orders(states: PactStates, backend: Backend) -> Iterator[Flask]:
    app = make_app(states, backend)
    yield app
    close_app(app)


def test_leak_verify_passes_and_leaves_the_database_as_it_was(
    orders: Flask, tmp_path: Path
) -> None:
    result = verify(orders, leak_pact(tmp_path))

    assert result.passed, result.report()
    assert len(result.interactions) == 2
    assert rows(orders) == FIXTURE_ONLY


@pytest.mark.parametrize("backend", ["sqlite-file"], indirect=True)
def test_leak_without_isolation_fails_with_the_row_of_a(
    states: PactStates, backend: Backend, tmp_path: Path
) -> None:
    # The control: the same pact leaks without isolate_database.
    app = make_app(states, backend, isolate=False)
    try:
        result = verify(app, leak_pact(tmp_path))
    finally:
        close_app(app)

    assert not result.passed
    [failed] = [i for i in result.interactions if not i.passed]
    assert failed.description == LIST
    assert "kettle" in result.report()


@pytest.mark.parametrize("backend", ["sqlite-file"], indirect=True)
def test_leak_flask_pact_verify_ends_with_the_counts(
    orders: Flask, tmp_path: Path
) -> None:
    result = orders.test_cli_runner().invoke(
        pact_verify_command, [str(leak_pact(tmp_path))]
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "2 passed, 0 failed"
    assert rows(orders) == FIXTURE_ONLY


def run_pact_python_verifier(app: Flask, pact: Path, *, teardown: bool) -> list[Any]:
    """pact-python's own Verifier against the app and its blueprint."""
    with minimal_trust_store(), served(app) as port:
        base = f"http://127.0.0.1:{port}"
        verifier = (
            Verifier("Orders", host="127.0.0.1")
            .add_transport(url=base)
            .state_handler(f"{base}{URL}", teardown=teardown, body=True)
            .add_source(pact)
        )
        with contextlib.suppress(RuntimeError):  # raised when any interaction fails
            verifier.verify()
    results: list[dict[str, Any]] = verifier.results["interactionResults"]
    return [(result["description"], result["result"]) for result in results]


@pytest.mark.parametrize("teardown", [True, False], ids=["teardown", "no-teardown"])
@pytest.mark.parametrize("backend", ["sqlite-file", "postgres"], indirect=True)
def test_leak_pact_python_verifier_against_the_blueprint(
    orders: Flask, tmp_path: Path, teardown: bool
) -> None:
    results = run_pact_python_verifier(orders, leak_pact(tmp_path), teardown=teardown)
    # Without teardown calls, the next interaction or a reset ends the last one.
    held = get_app_states(orders).lifecycle.interaction is not None
    get_app_states(orders).reset()

    assert results == [(CREATE, "OK"), (LIST, "OK")]
    assert held is not teardown
    assert rows(orders) == FIXTURE_ONLY


@pytest.mark.parametrize("backend", ["sqlite-file", "postgres"], indirect=True)
def test_leak_a_failing_setup_in_the_middle_is_rolled_back_at_once(
    orders: Flask, tmp_path: Path
) -> None:
    middle = _interaction(
        "A2: a request in a broken state",
        {"method": "GET", "path": "/orders"},
        200,
        {"orders": ["item 0", "item 1"], "audit": 0},
        "customer Ann has 2 orders",
        "broken",
    )

    result = verify(orders, leak_pact(tmp_path, middle))

    outcomes = {i.description: i.passed for i in result.interactions}
    assert outcomes == {
        CREATE: True,
        "A2: a request in a broken state": False,
        LIST: True,
    }
    assert "the broken state" in result.report()
    assert rows(orders) == FIXTURE_ONLY


@pytest.mark.parametrize("backend", ["sqlite-memory", "postgres"], indirect=True)
def test_leak_plain_sqlalchemy_scoped_session(
    states: PactStates, backend: Backend, tmp_path: Path
) -> None:
    engine = backend.engine()
    session = plain_session(engine)
    states.isolate_database(session)

    @states.register("no items")
    def no_items() -> None: ...

    post = {**CREATE_ORDER["request"], "path": "/items", "body": {"name": "kettle"}}
    create = _interaction(CREATE, post, 201, {"name": "kettle"}, "no items")
    get = {"method": "GET", "path": "/items"}
    listing = _interaction(LIST, get, 200, {"items": []}, "no items")
    pact = hand_pact(tmp_path / "items.json", [create, listing], "Web", "Items")
    app = plain_app(states, session)
    try:
        result = verify(app, pact)
        left = count_items(engine)
    finally:
        get_app_states(app).close()
        session.remove()
        engine.dispose()

    assert result.passed, result.report()
    assert len(result.interactions) == 2
    assert left == 0
