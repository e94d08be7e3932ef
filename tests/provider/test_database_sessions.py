"""``isolate_database`` with plain SQLAlchemy 2 (``scoped_session`` and
``sessionmaker``), pysqlite's transaction modes, and every misuse error."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from database_helpers import (
    BACKENDS,
    Item,
    PlainBase,
    count_items,
    db,
    in_thread,
    make_backend,
    plain_app,
    plain_session,
    state,
)
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from flask_pact_states import PactStates
from flask_pact_states.errors import (
    DatabaseIsolationError,
    DuplicateIsolationError,
    IsolationRequirementError,
    UnsupportedDatabaseError,
)
from flask_pact_states.provider.state import get_app_states


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    with make_backend(request.param, tmp_path) as backend:
        engine = backend.engine()
        yield engine
        PlainBase.metadata.drop_all(engine)
        engine.dispose()


@pytest.fixture
def file_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    yield engine
    engine.dispose()


def register_item_state(states: PactStates, session: Any) -> list[Session]:
    """``item {name} exists``; returns the sessions the handler used."""
    used: list[Session] = []

    @states.register("item {name} exists")
    def item_exists(name: str) -> dict[str, int]:
        item = Item(name=name)
        session.add(item)
        session.commit()
        used.append(session())
        return {"id": item.id}  # a refresh: a savepoint left open on purpose

    return used


def run_interaction(client: FlaskClient, name: str) -> list[str]:
    """Set up ``item NAME exists``, POST an item, list the items, tear down."""
    assert state(client, f"item {name} exists").status_code == 200
    in_thread(lambda: client.post("/items", json={"name": "posted"}))
    listed = in_thread(lambda: client.get("/items")).get_json()
    state(client, f"item {name} exists", "teardown")
    return list(listed["items"])


def test_isolate_database_scoped_session_rolls_back_every_thread(
    states: PactStates, engine: sa.Engine
) -> None:
    session = plain_session(engine)
    states.isolate_database(session)
    used = register_item_state(states, session)
    client = plain_app(states, session).test_client()

    first = run_interaction(client, "a")
    second = run_interaction(client, "b")

    assert first == ["a", "posted"]
    assert second == ["b", "posted"]  # nothing of the first interaction
    assert count_items(engine) == 0
    # Thread-local sessions of one interaction are not handed to the next.
    assert used[0] is not used[1]
    session.remove()


def test_isolate_database_sessionmaker_sessions_join_the_transaction(
    states: PactStates, file_engine: sa.Engine
) -> None:
    PlainBase.metadata.create_all(file_engine)
    factory = sessionmaker(bind=file_engine)
    original_class = factory.class_
    states.isolate_database(factory)
    app = Flask("plain")
    app.testing = True
    states.init_app(app)

    @states.register("an item exists")
    def item_exists() -> None:
        with factory.begin() as session:
            session.add(Item(name="state"))

    @app.get("/items")
    def items() -> dict[str, list[str]]:
        with factory() as session:
            return {"items": list(session.scalars(sa.select(Item.name)))}

    client = app.test_client()
    state(client, "an item exists")
    listed = in_thread(lambda: client.get("/items")).get_json()
    state(client, "an item exists", "teardown")

    assert listed == {"items": ["state"]}
    assert count_items(file_engine) == 0
    assert factory.class_ is original_class  # restored as it was


def _recipe_engine(path: Path) -> sa.Engine:
    """SQLAlchemy's documented pysqlite recipe: the app emits BEGIN itself."""
    engine = sa.create_engine(f"sqlite:///{path}")

    @sa.event.listens_for(engine, "connect")
    def no_driver_transactions(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


class _AutocommitConnection(sqlite3.Connection):
    """Python 3.12's ``autocommit=True``, where ``rollback()`` does nothing."""

    autocommit = True


def _autocommit_engine(path: Path) -> sa.Engine:
    return sa.create_engine(
        f"sqlite:///{path}", connect_args={"factory": _AutocommitConnection}
    )


def test_isolate_database_accepts_the_pysqlite_begin_recipe(
    states: PactStates, tmp_path: Path
) -> None:
    engine = _recipe_engine(tmp_path / "recipe.db")
    session = plain_session(engine)
    states.isolate_database(session)
    register_item_state(states, session)
    client = plain_app(states, session).test_client()

    listed = run_interaction(client, "a")

    assert listed == ["a", "posted"]
    assert count_items(engine) == 0
    session.remove()
    engine.dispose()


@pytest.mark.parametrize(
    ("make_engine", "message"),
    [
        (lambda path: sa.create_engine("sqlite://"), "uses SingletonThreadPool"),
        (_autocommit_engine, "autocommit=True"),
    ],
    ids=["memory-without-static-pool", "sqlite3-autocommit"],
)
def test_isolate_database_says_what_the_engine_lacks(
    states: PactStates, tmp_path: Path, make_engine: Any, message: str
) -> None:
    engine: sa.Engine = make_engine(tmp_path / "x.db")
    session = plain_session(engine)
    states.isolate_database(session)
    register_item_state(states, session)
    app = plain_app(states, session)

    answer = state(app.test_client(), "item a exists")

    assert answer.status_code == 422
    assert answer.get_json()["exception"]["type"] == "IsolationRequirementError"
    assert message in answer.get_json()["message"]
    assert get_app_states(app).lifecycle.interaction is None  # undone at once
    engine.dispose()


@pytest.mark.parametrize("db_object", [42, "db", sa.MetaData(), Session])
def test_isolate_database_refuses_an_unknown_object(
    states: PactStates, db_object: object
) -> None:
    with pytest.raises(UnsupportedDatabaseError, match="cannot isolate") as caught:
        states.isolate_database(db_object)

    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, DatabaseIsolationError)


def test_isolate_database_without_sqlalchemy_says_what_to_install(
    states: PactStates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "flask_pact_states.provider.database", None)

    with pytest.raises(UnsupportedDatabaseError, match=r"flask-pact-states\[sqlalch"):
        states.isolate_database(db)


def _same_database_twice(file_engine: sa.Engine) -> list[tuple[object, object]]:
    scoped = scoped_session(sessionmaker(bind=file_engine))
    factory = sessionmaker(bind=file_engine)
    return [
        (db, db),
        (db, db.session),
        (scoped, scoped.session_factory),
        (factory, factory),
    ]


@pytest.mark.parametrize("pair", range(4), ids=["db", "db.session", "scoped", "maker"])
def test_isolate_database_refuses_one_database_twice(
    states: PactStates, file_engine: sa.Engine, pair: int
) -> None:
    first, second = _same_database_twice(file_engine)[pair]
    states.isolate_database(first)

    with pytest.raises(DuplicateIsolationError, match="isolated already") as caught:
        states.isolate_database(second, "truncate", metadata=PlainBase.metadata)

    assert isinstance(caught.value, ValueError)


def test_isolate_database_checks_the_strategy_requirements(
    states: PactStates, file_engine: sa.Engine
) -> None:
    factory = sessionmaker(bind=file_engine)

    with pytest.raises(IsolationRequirementError, match="Unknown isolation strategy"):
        states.isolate_database(factory, strategy="rollback")  # type: ignore[arg-type]
    with pytest.raises(IsolationRequirementError, match=r"metadata=Base\.metadata"):
        states.isolate_database(factory, strategy="truncate")
    with pytest.raises(IsolationRequirementError, match=r"sessionmaker\(bind=engine\)"):
        states.isolate_database(sessionmaker())
    with (
        file_engine.connect() as connection,
        pytest.raises(IsolationRequirementError, match="not connections"),
    ):
        states.isolate_database(sessionmaker(bind=connection))


def test_isolate_database_truncate_with_a_sessionmaker_and_metadata(
    states: PactStates, file_engine: sa.Engine
) -> None:
    session = plain_session(file_engine)
    states.isolate_database(session, "truncate", metadata=PlainBase.metadata)
    register_item_state(states, session)
    client = plain_app(states, session).test_client()

    listed = run_interaction(client, "a")

    assert listed == ["a", "posted"]
    assert count_items(file_engine) == 0
    session.remove()


def test_isolate_database_leaves_sessions_made_before_alone(
    states: PactStates, file_engine: sa.Engine
) -> None:
    # One session for the whole app (a custom scope), in use before verifying.
    session = scoped_session(sessionmaker(bind=file_engine), scopefunc=lambda: "app")
    PlainBase.metadata.create_all(file_engine)
    before = session()
    before.add(Item(name="fixture"))
    before.commit()
    states.isolate_database(session)
    register_item_state(states, session)
    client = plain_app(states, session).test_client()

    listed = run_interaction(client, "a")

    assert listed == ["fixture", "a", "posted"]
    # Not handed out inside (it would have needed a second connection).
    assert before.scalars(sa.select(Item.name)).all() == ["fixture"]
    session.remove()


def test_isolate_database_refuses_an_autocommit_engine(
    states: PactStates, tmp_path: Path
) -> None:
    with make_backend("postgres", tmp_path) as backend:
        engine = sa.create_engine(
            backend.url, isolation_level="AUTOCOMMIT", **backend.options
        )
        session = plain_session(engine)
        states.isolate_database(session)
        register_item_state(states, session)
        app = plain_app(states, session)
        try:
            answer = state(app.test_client(), "item a exists")
            left = count_items(engine)
        finally:
            get_app_states(app).close()
            engine.dispose()

    assert answer.status_code == 422
    assert answer.get_json()["exception"]["type"] == "IsolationRequirementError"
    assert "autocommit mode" in answer.get_json()["message"]
    assert left == 0  # the state never ran
