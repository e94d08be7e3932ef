"""Database isolation: what one interaction wrote is gone before the next.

:meth:`PactStates.isolate_database <flask_pact_states.PactStates.isolate_database>`
makes a :class:`DatabaseIsolation` for a Flask-SQLAlchemy ``SQLAlchemy``, a
SQLAlchemy ``sessionmaker`` or a ``scoped_session``. Each app's lifecycle
holds it for every interaction, as it holds a state's patches: it begins
before the ``before_each`` hooks and the first setup, and it ends by every
undo path (the last teardown, the next interaction, a failed setup, a reset,
the app's end).

- ``"transaction"`` (:mod:`.transaction`): one outer transaction per engine,
  the app's sessions joined to it with savepoints, rolled back at the end.
- ``"truncate"``: every table of the metadata emptied at the end, children
  before parents, for apps a transaction cannot wrap.

Neither undoes what lives outside the tables: PostgreSQL sequences advance
in rolled-back transactions too (``reset_sequences=True`` puts them back), and
mail sent or files written stay sent and written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from sqlalchemy import MetaData, Table, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import scoped_session, sessionmaker
from sqlalchemy.schema import sort_tables

from ..errors import (
    IsolationRequirementError,
    SecondConnectionError,
    UnsupportedDatabaseError,
)
from .transaction import Redirection, check_pool, hold_transactions

Strategy = Literal["transaction", "truncate"]
STRATEGIES: Final = ("transaction", "truncate")


@dataclass(frozen=True)
class Database:
    """What isolation needs to know of the object given to ``isolate_database``."""

    label: str
    factory: sessionmaker[Any]
    scoped: scoped_session[Any] | None
    #: The engines, read when an interaction begins (in the app context:
    #: Flask-SQLAlchemy keeps them per app).
    engines: Callable[[], list[Engine]]
    #: The metadata whose tables ``"truncate"`` empties.
    metadatas: Callable[[], list[MetaData]]


def describe_database(
    db: object, metadata: MetaData | Iterable[MetaData] | None = None
) -> Database:
    """Recognise ``db`` and say where its sessions, engines and tables are.

    :raises UnsupportedDatabaseError: for anything but a Flask-SQLAlchemy
        ``SQLAlchemy``, a ``sessionmaker`` or a ``scoped_session``.
    """
    given = _metadata_list(metadata)
    fsa = _flask_sqlalchemy_class()
    if fsa is not None and isinstance(db, fsa):
        return _from_flask_sqlalchemy(db, given)
    if isinstance(db, scoped_session):
        return _from_sessionmaker(db.session_factory, db, given)
    if isinstance(db, sessionmaker):
        return _from_sessionmaker(db, None, given)
    msg = (
        f"isolate_database() cannot isolate {db!r} (a {type(db).__qualname__}):"
        " pass a Flask-SQLAlchemy SQLAlchemy object (db), a SQLAlchemy"
        " sessionmaker or a scoped_session, the one the app's views use."
    )
    raise UnsupportedDatabaseError(msg)


def _flask_sqlalchemy_class() -> type[Any] | None:
    try:
        from flask_sqlalchemy import SQLAlchemy
    except ImportError:  # plain SQLAlchemy apps need no Flask-SQLAlchemy
        return None
    return SQLAlchemy


def _metadata_list(metadata: MetaData | Iterable[MetaData] | None) -> list[MetaData]:
    if metadata is None:
        return []
    if isinstance(metadata, MetaData):
        return [metadata]
    return list(metadata)


def _from_flask_sqlalchemy(db: Any, metadatas: list[MetaData]) -> Database:
    scoped: scoped_session[Any] = db.session
    return Database(
        label=f"Flask-SQLAlchemy {db!r}",
        factory=scoped.session_factory,
        scoped=scoped,
        engines=lambda: _unique(db.engines.values()),
        metadatas=lambda: metadatas or list(db.metadatas.values()),
    )


def _from_sessionmaker(
    factory: sessionmaker[Any],
    scoped: scoped_session[Any] | None,
    metadatas: list[MetaData],
) -> Database:
    fsa = _flask_sqlalchemy_class()
    owner = factory.kw.get("db")
    if fsa is not None and isinstance(owner, fsa):
        return _from_flask_sqlalchemy(owner, metadatas)  # db.session was given
    label = repr(scoped if scoped is not None else factory)
    engines = _bound_engines(factory, label)
    return Database(
        label=label,
        factory=factory,
        scoped=scoped,
        engines=lambda: engines,
        metadatas=lambda: metadatas,
    )


def _bound_engines(factory: sessionmaker[Any], label: str) -> list[Engine]:
    binds = [factory.kw.get("bind"), *(factory.kw.get("binds") or {}).values()]
    binds = [bind for bind in binds if bind is not None]
    if binds and all(isinstance(bind, Engine) for bind in binds):
        return _unique(binds)
    msg = (
        f"isolate_database() needs the engines of {label}: make it with"
        " sessionmaker(bind=engine) or sessionmaker(binds={...: engine}),"
        " engines and not connections."
    )
    raise IsolationRequirementError(msg)


def _unique(engines: Iterable[Engine]) -> list[Engine]:
    return list({id(engine): engine for engine in engines}.values())


class DatabaseIsolation:
    """One database, put back as it was after every interaction.

    Made by :meth:`PactStates.isolate_database
    <flask_pact_states.PactStates.isolate_database>`, which documents the
    arguments. The lifecycle calls it when an interaction begins and closes
    what it returns when the interaction ends.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        db: object,
        strategy: Strategy = "transaction",
        *,
        metadata: MetaData | Iterable[MetaData] | None = None,
        reset_sequences: bool = False,
    ) -> None:
        self.strategy = _check_strategy(strategy)
        self.database = describe_database(db, metadata)
        self.reset_sequences = reset_sequences
        if strategy == "truncate" and not self.database.metadatas():
            msg = (
                f"isolate_database(strategy='truncate') needs the tables to empty:"
                f" pass metadata=Base.metadata for {self.database.label}."
            )
            raise IsolationRequirementError(msg)
        self._redirection = Redirection()
        self._lock = threading.Lock()
        self._held = False

    @property
    def key(self) -> object:
        """What makes two isolations the same database: the sessionmaker."""
        return self.database.factory

    def __call__(self) -> ExitStack:
        """Begin isolating one interaction.

        :returns: a stack whose closing undoes the interaction's writes.
        :raises DatabaseIsolationError: when the database cannot be isolated.
        """
        self._claim()
        stack = ExitStack()
        stack.callback(self._release)
        try:
            self._begin(stack)
        except BaseException:
            stack.close()
            raise
        return stack

    def _begin(self, stack: ExitStack) -> None:
        database = self.database
        engines = database.engines()
        for engine in engines:
            check_pool(engine)
        if self.reset_sequences:
            stack.callback(restore_sequences, snapshot_sequences(engines))
        if self.strategy == "transaction":
            stack.enter_context(
                hold_transactions(
                    engines, database.factory, database.scoped, self._redirection
                )
            )
        else:
            stack.callback(truncate, database, tables_by_engine(database))

    def _claim(self) -> None:
        with self._lock:
            if self._held:
                msg = (
                    f"{self.database.label} is isolated for an interaction of"
                    " another app right now: one database serves one"
                    " verification at a time in a process. Verify the apps one"
                    " after another, or in separate processes (--jobs)."
                )
                raise SecondConnectionError(msg)
            self._held = True

    def _release(self) -> None:
        with self._lock:
            self._held = False


def _check_strategy(strategy: str) -> Strategy:
    if strategy in STRATEGIES:
        return cast(Strategy, strategy)
    msg = f"Unknown isolation strategy {strategy!r}: use one of {STRATEGIES}."
    raise IsolationRequirementError(msg)


def tables_by_engine(database: Database) -> list[tuple[Engine, list[Table]]]:
    """Each engine with its tables in deletion order, children first.

    Asks a session where each table lives, as the app's own sessions would.
    """
    grouped: dict[int, tuple[Engine, list[Table]]] = {}
    probe = database.factory()
    try:
        for metadata in database.metadatas():
            for table in metadata.tables.values():
                engine = probe.get_bind(clause=table)
                assert isinstance(engine, Engine)  # sessions are bound to engines
                grouped.setdefault(id(engine), (engine, []))[1].append(table)
    finally:
        probe.close()
    return [
        (engine, list(reversed(sort_tables(tables))))
        for engine, tables in grouped.values()
    ]


def truncate(database: Database, plan: list[tuple[Engine, list[Table]]]) -> None:
    """Delete every row of the planned tables, after removing the session."""
    if database.scoped is not None:
        database.scoped.remove()
    for engine, tables in plan:
        with engine.begin() as connection:
            for table in tables:
                connection.execute(table.delete())


#: Sequences of the schemas on the search path: name, last value, start.
_SEQUENCES: Final = text(
    "SELECT format('%I.%I', schemaname, sequencename), last_value, start_value"
    " FROM pg_sequences WHERE schemaname = ANY (current_schemas(false))"
)
_SETVAL: Final = text("SELECT setval(CAST(:name AS regclass), :value, :called)")

SequenceSnapshot = list[tuple[Engine, dict[str, tuple[int | None, int]]]]


def snapshot_sequences(engines: Iterable[Engine]) -> SequenceSnapshot:
    """The PostgreSQL sequences of each engine, as they are now.

    Other databases have nothing to snapshot: SQLite's rowids roll back.
    """
    snapshot: SequenceSnapshot = []
    for engine in engines:
        if engine.dialect.name != "postgresql":
            continue
        with engine.connect() as connection:
            rows = connection.execute(_SEQUENCES).all()
        snapshot.append((engine, {row[0]: (row[1], row[2]) for row in rows}))
    return snapshot


def restore_sequences(snapshot: SequenceSnapshot) -> None:
    """Set every sequence that moved since ``snapshot`` back where it was."""
    for engine, before in snapshot:
        with engine.begin() as connection:
            now = {row[0]: row[1] for row in connection.execute(_SEQUENCES)}
            for name, (last, start) in before.items():
                if name in now and now[name] != last:
                    called = last is not None
                    value = last if last is not None else start
                    connection.execute(
                        _SETVAL, {"name": name, "value": value, "called": called}
                    )
