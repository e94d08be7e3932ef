"""The :class:`PactStates` Flask extension."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, request, request_started

from .. import config
from ..errors import AlreadySetUpError, PactStatesNotEnabledError
from .endpoint import BLUEPRINT_NAME, create_blueprint
from .journal import StateChangeRecord
from .registry import StateRegistry
from .state import EXTENSION_KEY, AppStates, Hooks, get_app_states

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
        self._hooks = Hooks()
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
        states = AppStates(self.registry, self._hooks, settings)
        app.extensions[EXTENSION_KEY] = states
        app.register_blueprint(create_blueprint(settings.url))
        _register_boundary_hook(app, states)
        # Undo whatever is still patched when the app goes away or Python exits.
        weakref.finalize(app, states.close)

    def reset(self, app: Flask | None = None) -> None:
        """Undo everything the current interaction of ``app`` set up.

        :param app: defaults to :data:`flask.current_app`.
        """
        get_app_states(app).reset()

    def journal(self, app: Flask | None = None) -> list[StateChangeRecord]:
        """The state changes ``app`` kept, oldest first.

        At most ``PACT_STATES_JOURNAL_SIZE`` of them.
        """
        return list(get_app_states(app).journal)


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
