"""The ``"transaction"`` strategy: one outer transaction per engine per interaction.

When an interaction begins, :func:`hold_transactions` checks out one
connection per engine and begins a transaction on it. Until the interaction
ends, the database's ``sessionmaker`` makes sessions of a subclass that sends
every engine's work to that engine's connection and joins its transaction with
``join_transaction_mode="create_savepoint"``: the app's ``commit()`` releases a
savepoint, the outer transaction stays open. A ``scoped_session`` hands out
sessions from a registry of the interaction's own, so no session made for one
interaction is used in the next. Whichever thread runs a state or the provider
request, it reaches the same connection (one at a time: the verifier runs one
interaction after another). Meanwhile a stand-in for the engine's pool refuses
any other connection with :class:`~flask_pact_states.errors.SecondConnectionError`
before anything is checked out.

At the end, in reverse: the pool, the sessionmaker and the registry are
restored, every session of the interaction is closed (newest first, so inner
savepoints go first), each transaction rolls back and its connection goes back
to the pool.

pysqlite begins transactions on its own and only before DML, so SAVEPOINT
would not nest in the outer transaction (SQLAlchemy's docs, "Transactions with
SQLite and the sqlite3 driver"). For the interaction's connection alone, the
driver's transaction handling is turned off and ``BEGIN`` is emitted here; the
engine's other connections are left as configured.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from typing import Any, Final, NoReturn

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from sqlalchemy.pool import Pool, SingletonThreadPool
from sqlalchemy.util import ScopedRegistry

from ..errors import IsolationRequirementError, SecondConnectionError

#: sqlite3's ``autocommit`` default (Python 3.12+); older Pythons have no such
#: attribute and behave as this.
_LEGACY: Final = getattr(sqlite3, "LEGACY_TRANSACTION_CONTROL", -1)


def engine_label(engine: Engine) -> str:
    """The engine's URL without its password, for messages."""
    return engine.url.render_as_string(hide_password=True)


class _RefusingPool:
    """Stands in for an engine's pool while an interaction holds the engine:
    asked for a connection, it refuses.

    Nothing is checked out, so nothing is checked back in: a pool resets (rolls
    back) every connection returned to it, and a ``StaticPool`` shares its one
    connection with the interaction's transaction. The interaction's own
    connection goes back to the real pool, which it keeps a reference to.
    """

    def __init__(self, pool: Pool, label: str) -> None:
        self._pool = pool
        self._label = label

    def connect(self) -> NoReturn:
        msg = (
            f"Engine {self._label!r} was asked for a second connection while the"
            " interaction's transaction holds one (isolate_database strategy"
            " 'transaction'). That connection's work would escape the rollback,"
            " and on SQLite it would wait for the transaction's lock. Use the"
            " isolated session (db.session, or the sessionmaker or scoped_session"
            " given to isolate_database) in views and states, or choose"
            " strategy='truncate' for code that opens its own connections"
            " (engine.connect(), create_all(), raw DDL)."
        )
        raise SecondConnectionError(msg)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


class Router:
    """The connections and sessions of one interaction."""

    def __init__(self) -> None:
        self.connections: dict[Engine, Connection] = {}
        self.sessions: list[Session] = []

    def route(self, bind: Any) -> Any:
        """The interaction's connection for an engine; anything else as it is."""
        if isinstance(bind, Engine):
            return self.connections.get(bind, bind)
        return bind

    def close_sessions(self) -> None:
        """Close every session of the interaction, newest first, each even
        when an earlier one fails to close."""
        sessions, self.sessions = self.sessions, []
        with ExitStack() as stack:
            for session in sessions:
                stack.callback(session.close)


class Redirection:
    """Makes one ``sessionmaker`` route its sessions through the current
    :class:`Router`; kept for the database's life, so that the session
    subclass is built once."""

    def __init__(self) -> None:
        self.router: Router | None = None
        self._classes: dict[type[Session], type[Session]] = {}

    def session_class(self, base: type[Session]) -> type[Session]:
        """A subclass of ``base`` whose sessions join the router's connections."""
        routed = self._classes.get(base)
        if routed is None:
            routed = self._classes[base] = _routed_class(base, self)
        return routed


def _routed_class(base: type[Session], redirection: Redirection) -> type[Session]:
    def __init__(self: Session, *args: Any, **kwargs: Any) -> None:
        kwargs["join_transaction_mode"] = "create_savepoint"
        base.__init__(self, *args, **kwargs)
        router = redirection.router
        if router is not None:
            router.sessions.append(self)

    def get_bind(self: Session, *args: Any, **kwargs: Any) -> Any:
        bind = base.get_bind(self, *args, **kwargs)
        router = redirection.router
        return bind if router is None else router.route(bind)

    namespace = {
        "__init__": __init__,
        "get_bind": get_bind,
        "__module__": base.__module__,
        "__qualname__": base.__qualname__,
        "__doc__": base.__doc__,
    }
    return type(base.__name__, (base,), namespace)


def hold_transactions(
    engines: Iterable[Engine],
    factory: sessionmaker[Any],
    scoped: scoped_session[Any] | None,
    redirection: Redirection,
) -> ExitStack:
    """Begin the interaction's transactions and route the sessions to them.

    :returns: a stack whose closing rolls everything back.
    :raises IsolationRequirementError: when an engine cannot be wrapped.
    """
    stack = ExitStack()
    try:
        router = Router()
        for engine in engines:
            router.connections[engine] = _begin(engine, stack)
        stack.callback(router.close_sessions)
        _redirect(factory, scoped, redirection, router, stack)
    except BaseException:
        stack.close()
        raise
    return stack


def _begin(engine: Engine, stack: ExitStack) -> Connection:
    """Check out the interaction's connection and begin its outer transaction
    (the caller has checked the pool: :func:`check_pool`)."""
    connection = engine.connect()
    stack.callback(connection.close)
    driver = connection.connection.driver_connection
    begin_here = isinstance(driver, sqlite3.Connection) and _driver_off(
        driver, engine, stack
    )
    if not begin_here:
        _refuse_autocommit(engine, connection)
    transaction = connection.begin()
    stack.callback(transaction.rollback)
    if begin_here and not driver.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN")
    pool = engine.pool
    engine.pool = _RefusingPool(pool, engine_label(engine))  # type: ignore[assignment]
    stack.callback(setattr, engine, "pool", pool)
    return connection


def _refuse_autocommit(engine: Engine, connection: Connection) -> None:
    """Refuse a driver in autocommit mode (``isolation_level="AUTOCOMMIT"``):
    ``begin()`` would start no transaction, and SAVEPOINT would fail."""
    detect = getattr(engine.dialect, "detect_autocommit_setting", None)
    try:  # recent SQLAlchemy releases only, and not every dialect has it
        autocommit = detect is not None and detect(
            connection.connection.dbapi_connection
        )
    except NotImplementedError:
        return
    if not autocommit:
        return
    msg = (
        f"Engine {engine_label(engine)!r} connects in autocommit mode"
        " (isolation_level='AUTOCOMMIT'), so no transaction can wrap an"
        " interaction. Give the test app an engine without it, or choose"
        " strategy='truncate'."
    )
    raise IsolationRequirementError(msg)


def check_pool(engine: Engine) -> None:
    """Refuse a pool that gives each thread its own connection.

    :raises IsolationRequirementError: for a ``SingletonThreadPool``.
    """
    if not isinstance(engine.pool, SingletonThreadPool):
        return
    msg = (
        f"Engine {engine_label(engine)!r} uses SingletonThreadPool (SQLAlchemy's"
        " default for an in-memory SQLite database): each thread gets its own"
        " connection, so the provider request, served on another thread, would"
        " neither see the states' rows nor be rolled back. Create the engine with"
        " poolclass=sqlalchemy.pool.StaticPool and connect_args="
        "{'check_same_thread': False} (Flask-SQLAlchemy does this for"
        " in-memory databases), or use a database file."
    )
    raise IsolationRequirementError(msg)


def _driver_off(driver: sqlite3.Connection, engine: Engine, stack: ExitStack) -> bool:
    """Turn sqlite3's own transaction handling off on this connection.

    :returns: whether ``BEGIN`` must be emitted here.
    :raises IsolationRequirementError: for ``autocommit=True`` (Python 3.12+),
        where ``rollback()`` does nothing.
    """
    autocommit = getattr(driver, "autocommit", _LEGACY)
    if autocommit is True:
        msg = (
            f"Engine {engine_label(engine)!r} connects with sqlite3 autocommit=True,"
            " where rollback() does nothing, so its interactions cannot be rolled"
            " back. Leave autocommit at its default (or False), or choose"
            " strategy='truncate'."
        )
        raise IsolationRequirementError(msg)
    if autocommit != _LEGACY:
        return False  # autocommit=False: PEP 249 transactions, SAVEPOINT nests
    if driver.isolation_level is not None and not driver.in_transaction:
        saved = driver.isolation_level
        driver.isolation_level = None
        stack.callback(setattr, driver, "isolation_level", saved)
    return True


def _redirect(
    factory: sessionmaker[Any],
    scoped: scoped_session[Any] | None,
    redirection: Redirection,
    router: Router,
    stack: ExitStack,
) -> None:
    """Make ``factory`` (and ``scoped``) hand out the interaction's sessions."""
    original_class = factory.class_
    factory.class_ = redirection.session_class(original_class)
    stack.callback(setattr, factory, "class_", original_class)
    redirection.router = router
    stack.callback(setattr, redirection, "router", None)
    if scoped is not None:
        original = scoped.registry
        scopefunc: Callable[[], Any] = getattr(
            original, "scopefunc", threading.get_ident
        )
        scoped.registry = ScopedRegistry(scoped.session_factory, scopefunc)
        stack.callback(setattr, scoped, "registry", original)
