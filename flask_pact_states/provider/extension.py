"""The :class:`PactStates` Flask extension."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, has_app_context, request, request_started

from .. import config
from ..errors import (
    AlreadySetUpError,
    DuplicateIsolationError,
    NotSetUpError,
    PactStatesNotEnabledError,
    StateRegistrationError,
    UnsupportedDatabaseError,
)
from .endpoint import BLUEPRINT_NAME, create_blueprint
from .journal import StateChangeRecord
from .registry import StateRegistry
from .state import EXTENSION_KEY, AppStates, Hooks, get_app_states

if TYPE_CHECKING:  # SQLAlchemy is an optional dependency
    from sqlalchemy import MetaData

    from .database import DatabaseIsolation, Strategy

F = TypeVar("F", bound=Callable[..., Any])


class PactStates:
    """Provider states for Pact verification of a Flask app.

    Register handlers with :meth:`register`, then mount the state-change
    endpoint on a *test* app with :meth:`init_app` (or ``PactStates(app)``)::

        states = PactStates()

        @states.register("user {user_id:int} exists")
        def user_exists(user_id, name="Verna Hampton"):
            mock_db("myapp.db.USERS", {user_id: User(name=name)})

    One object can serve several apps; handlers are shared, and each app keeps
    its own lifecycle and journal in ``app.extensions["pact_states"]``.

    :param app: an app to set up at once, as with :meth:`init_app`.

    .. versionadded:: 0.1
    """

    def __init__(self, app: Flask | None = None) -> None:
        self.registry = StateRegistry()
        #: Message producers by description: :meth:`message`.
        self.producers = StateRegistry("message")
        self._hooks = Hooks()
        self._isolations: list[DatabaseIsolation] = []
        # Weak: the extension never keeps an app alive (Flask's extension
        # guide); only to find the one app outside an app context.
        self._apps: weakref.WeakSet[Flask] = weakref.WeakSet()
        if app is not None:
            self.init_app(app)

    def register(self, *names: str, consumer: str | None = None) -> Callable[[F], F]:
        """Decorator: the function sets the provider up for each state in ``names``.

        Names may be templates (``"user {user_id:int} exists"``) with the
        converters ``str``, ``int``, ``float`` and ``uuid``. Arguments are bound
        by keyword from the captures and the state's params (params win); the
        names ``params``, ``state`` and ``consumer`` are reserved. The function
        may return (or, as a generator, yield) a dict of provider-state values;
        code after a ``yield`` runs at teardown.

        :param names: one or more state names.
        :param consumer: only answer these states for this consumer.
        :returns: a decorator that registers and returns the function unchanged.
        :raises DuplicateStateError: when a name is already registered in the scope.
        """

        def decorator(func: F) -> F:
            self.registry.add(names, func, consumer=consumer)
            return func

        return decorator

    def message(
        self, *descriptions: str, consumer: str | None = None
    ) -> Callable[[F], F]:
        """Decorator: the function produces the message of each interaction
        in ``descriptions`` (message pacts' ``description``)::

            @states.message("an order created event")
            def order_created(order_id: int = 1):
                with capture("orders.events.publish") as sent:
                    orders.service.create_order(order_id, item="kettle")
                return Message(sent.arguments["payload"],
                               metadata={"topic": sent.arguments["topic"]})

        Registration, lookup and binding follow :meth:`register`'s rules:
        templates, consumer scopes, and keyword arguments from the
        description's captures, the interaction's provider-state params and
        the values its state handlers returned (those win). The reserved
        ``request`` gets a synchronous message's request contents (``None``
        for an asynchronous one). The function runs in an app context, after
        the interaction's states are set up and before they are undone; it may
        be ``async``. It returns the contents (dict or list as JSON, str,
        bytes) or a :class:`~flask_pact_states.Message`.

        :param descriptions: one or more message descriptions.
        :param consumer: only produce these messages for this consumer.
        :returns: a decorator that registers and returns the function unchanged.
        :raises DuplicateStateError: when a description is already registered
            in the scope.
        :raises StateRegistrationError: for a generator function.

        .. versionadded:: 0.1
        """

        def decorator(func: F) -> F:
            if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
                msg = (
                    f"Message producer {func.__qualname__}() is a generator; a"
                    " producer returns the message (its patches are undone with"
                    " the interaction anyway)."
                )
                raise StateRegistrationError(msg)
            self.producers.add(descriptions, func, consumer=consumer)
            return func

        return decorator

    def before_each(self, func: F) -> F:
        """Decorator: run ``func`` when each interaction begins, states or not.

        Patches it makes last until the interaction ends.
        """
        self._hooks.before_each.append(func)
        return func

    def after_each(self, func: F) -> F:
        """Decorator: run ``func`` when each interaction ends, after every undo."""
        self._hooks.after_each.append(func)
        return func

    def isolate_database(
        self,
        db: object,
        strategy: Strategy = "transaction",
        *,
        metadata: MetaData | Iterable[MetaData] | None = None,
        reset_sequences: bool = False,
    ) -> DatabaseIsolation:
        """Put ``db`` back as it was after every interaction.

        ``strategy="transaction"``: when an interaction begins (before the
        ``before_each`` hooks and its first setup), each engine gets one
        connection and an outer transaction; the app's sessions join it with
        savepoints, so ``commit()`` works as usual, and it rolls back when the
        interaction ends, whichever way it ends. ``strategy="truncate"``: every
        table of the metadata is emptied (children first) when it ends, for
        apps a transaction cannot wrap (their own connections, DDL).

        :param db: a Flask-SQLAlchemy ``SQLAlchemy`` (every bind), or the
            SQLAlchemy ``sessionmaker`` or ``scoped_session`` the app uses.
        :param strategy: ``"transaction"`` or ``"truncate"``.
        :param metadata: the tables to empty; Flask-SQLAlchemy's by default,
            needed for ``"truncate"`` with a ``sessionmaker``.
        :param reset_sequences: set PostgreSQL sequences back after each
            interaction too (rollback leaves them advanced).
        :returns: the isolation, held by each interaction.
        :raises UnsupportedDatabaseError: for any other kind of ``db``.
        :raises DuplicateIsolationError: when ``db`` is isolated already.
        :raises IsolationRequirementError: when the strategy cannot work as
            ``db`` is set up.

        .. versionadded:: 0.1
        """
        isolation = _new_isolation(db, strategy, metadata, reset_sequences)
        for existing in self._isolations:
            if existing.key is isolation.key:
                msg = (
                    f"{isolation.database.label} is isolated already (strategy"
                    f" {existing.strategy!r}); call isolate_database() once per"
                    " database."
                )
                raise DuplicateIsolationError(msg)
        self._isolations.append(isolation)
        self._hooks.resources.append(isolation)
        return isolation

    def init_app(self, app: Flask) -> None:
        """Mount the state-change endpoint on ``app``.

        :raises PactStatesNotEnabledError: unless ``app.testing`` is true or
            ``PACT_STATES_ENABLED`` is set: the endpoint changes data on request.
        :raises AlreadySetUpError: when ``app`` is already set up.
        :raises ConfigError: for a ``PACT_STATES_*`` value it cannot work with.
        """
        if EXTENSION_KEY in app.extensions:
            msg = (
                f"PactStates is already set up on app {app.name!r}; call"
                " init_app() once per app."
            )
            raise AlreadySetUpError(msg)
        config.apply_defaults(app.config)
        _check_enabled(app)
        settings = config.Settings.from_config(app.config)
        states = AppStates(self.registry, self._hooks, settings, self.producers)
        app.extensions[EXTENSION_KEY] = states
        self._apps.add(app)
        app.register_blueprint(create_blueprint(settings.url, settings.message_url))
        _register_boundary_hook(app, states)
        # Undo whatever is still patched when the app goes away or Python exits.
        weakref.finalize(app, states.close)

    def register_module(
        self, module: ModuleType, *, consumer: str | None = None
    ) -> None:
        """Register each public function defined in ``module`` for the state
        its name spells, ``_`` read as a space (``user_exists`` answers
        "user exists"), as pact-state-provider named them.

        Only ``module`` is read, once, now; names it imports from elsewhere
        and names starting with ``_`` are left out.

        :raises DuplicateStateError: when a name is already registered.
        """
        for name, func in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(func):
                continue
            if func.__module__ == module.__name__:
                self.registry.add([name.replace("_", " ")], func, consumer=consumer)

    def reset(self, app: Flask | None = None) -> None:
        """Undo everything the current interaction of ``app`` set up.

        :param app: defaults to :data:`flask.current_app`, then to the one app
            this object is set up on.
        """
        self._states_of(app).reset()

    def journal(self, app: Flask | None = None) -> list[StateChangeRecord]:
        """The state changes ``app`` kept, oldest first (``app`` as for
        :meth:`reset`).

        At most ``PACT_STATES_JOURNAL_SIZE`` of them.
        """
        return list(self._states_of(app).journal)

    def _states_of(self, app: Flask | None) -> AppStates:
        if app is not None or has_app_context():
            return get_app_states(app)
        apps = list(self._apps)
        if len(apps) == 1:
            return get_app_states(apps[0])
        which = "no app" if not apps else f"{len(apps)} apps"
        msg = (
            f"This PactStates is set up on {which}, and there is no app context:"
            " pass the app, e.g. states.reset(app)."
        )
        raise NotSetUpError(msg)


def _new_isolation(
    db: object,
    strategy: Strategy,
    metadata: MetaData | Iterable[MetaData] | None,
    reset_sequences: bool,
) -> DatabaseIsolation:
    try:
        from .database import DatabaseIsolation
    except ImportError as error:  # SQLAlchemy is an optional dependency
        msg = (
            f"isolate_database() needs SQLAlchemy ({error}): install"
            " flask-pact-states[sqlalchemy]."
        )
        raise UnsupportedDatabaseError(msg) from None
    return DatabaseIsolation(
        db, strategy, metadata=metadata, reset_sequences=reset_sequences
    )


def _check_enabled(app: Flask) -> None:
    enabled = app.config[config.ENABLED]
    if enabled or (enabled is None and app.testing):
        return
    msg = (
        f"PactStates will not mount its state-change endpoint on app {app.name!r}:"
        " it changes data on request and is for tests only. Set app.testing = True"
        f" (TESTING = True) in a test-only app factory, or set {config.ENABLED} ="
        " True to mount it anyway."
    )
    raise PactStatesNotEnabledError(msg)


def _register_boundary_hook(app: Flask, states: AppStates) -> None:
    lifecycle = states.lifecycle

    def note_app_request(sender: Flask, **extra: Any) -> None:
        # A request to the app itself is an interaction's provider request: the
        # next setup call belongs to a new interaction.
        if request.blueprint != BLUEPRINT_NAME:
            lifecycle.note_app_request()

    # A signal, not before_request: the app's own before_request hooks (auth,
    # rate limits) may answer first and would hide the provider request.
    request_started.connect(note_app_request, app, weak=False)
