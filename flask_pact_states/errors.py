"""Exceptions raised by flask_pact_states.

Every error a user can cause is a :class:`PactStatesError`, so callers can catch
the whole family, and each subclass also derives from the built-in it refines.
"""

from __future__ import annotations


class PactStatesError(Exception):
    """Base class of every error raised by flask_pact_states.

    .. versionadded:: 0.1
    """


class PactStatesNotEnabledError(PactStatesError, RuntimeError):
    """The provider-state endpoint was asked to mount on an app not made for tests.

    .. versionadded:: 0.1
    """


class AlreadySetUpError(PactStatesError, RuntimeError):
    """``init_app`` was called a second time for the same app.

    .. versionadded:: 0.1
    """


class NotSetUpError(PactStatesError, RuntimeError):
    """An app was used as if :class:`~flask_pact_states.PactStates` were set up
    on it, but it is not.

    .. versionadded:: 0.1
    """


class ConfigError(PactStatesError, ValueError):
    """A ``PACT_STATES_*`` config value the extension cannot work with.

    .. versionadded:: 0.1
    """


class StateRegistrationError(PactStatesError, ValueError):
    """A state handler could not be registered (bad template, duplicate name...).

    .. versionadded:: 0.1
    """


class DuplicateStateError(StateRegistrationError):
    """Two handlers were registered for the same state name in the same scope.

    .. versionadded:: 0.1
    """


class StateBindingError(PactStatesError, TypeError):
    """A handler needs an argument that neither the state name nor params supply.

    .. versionadded:: 0.1
    """


class HandlerReturnError(PactStatesError, TypeError):
    """A handler returned something other than ``None`` or a JSON object.

    .. versionadded:: 0.1
    """


class MockTargetError(PactStatesError, LookupError):
    """``mock_db`` or ``patch`` could not find what it was asked to replace.

    .. versionadded:: 0.1
    """


class CaptureError(PactStatesError, AssertionError):
    """A :func:`~flask_pact_states.capture` was read for its one call, but
    the captured publisher was called zero or several times.

    .. versionadded:: 0.1
    """


class PatchScopeError(PactStatesError, RuntimeError):
    """A patch was made from a thread a state handler started, after the
    interaction it belongs to ended.

    .. versionadded:: 0.1
    """


class PactSourceError(PactStatesError, ValueError):
    """A pact source is missing, unreadable or not a valid pact.

    .. versionadded:: 0.1
    """


class VerificationSetupError(PactStatesError, RuntimeError):
    """The verification could not start (no PactStates on the app, bad options...).

    .. versionadded:: 0.1
    """


class WorkerDiedError(PactStatesError, RuntimeError):
    """A verification worker process ended while runs were under way.

    The app started, then something ended the process (``os._exit`` or a
    crash in native code, in a state handler or a view); the verification did
    not finish. Unlike a worker that could not build the app, this is no
    usage error.

    .. versionadded:: 0.1
    """


class DatabaseIsolationError(PactStatesError):
    """Base class of the errors of :meth:`PactStates.isolate_database
    <flask_pact_states.PactStates.isolate_database>`; each subclass also
    derives from the built-in it refines.

    .. versionadded:: 0.1
    """


class UnsupportedDatabaseError(DatabaseIsolationError, TypeError):
    """``isolate_database`` got an object it cannot isolate: not a
    Flask-SQLAlchemy ``SQLAlchemy``, nor a SQLAlchemy ``sessionmaker`` or
    ``scoped_session``.

    .. versionadded:: 0.1
    """


class DuplicateIsolationError(DatabaseIsolationError, ValueError):
    """``isolate_database`` was called twice for one database.

    .. versionadded:: 0.1
    """


class IsolationRequirementError(DatabaseIsolationError, ValueError):
    """The database cannot be isolated with the chosen strategy as configured
    (an in-memory SQLite database without ``StaticPool``, a ``sessionmaker``
    without a bind, ``"truncate"`` without the metadata...).

    .. versionadded:: 0.1
    """


class SecondConnectionError(DatabaseIsolationError, RuntimeError):
    """Under the ``"transaction"`` strategy, something asked the isolated
    engine for a second connection while the interaction's transaction held
    one: its work would not be rolled back, and on SQLite it would wait for
    the transaction's lock.

    .. versionadded:: 0.1
    """
