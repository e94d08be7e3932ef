"""Configuration keys, their defaults and the one place they are applied.

Every key starts with ``PACT_STATES_``. Values set in ``app.config`` before
:meth:`~flask_pact_states.PactStates.init_app` win over these defaults, which
``init_app`` applies with ``setdefault``; ``init_app`` checks them at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .errors import ConfigError

#: Mount the endpoint although ``app.testing`` is false. ``None`` follows
#: ``app.testing``.
ENABLED: Final = "PACT_STATES_ENABLED"
#: Path of the state-change endpoint.
URL: Final = "PACT_STATES_URL"
#: Path of the message endpoint: the verifier's message transport (POST
#: ``{"description", "providerStates"}``, answered with the message).
MESSAGE_URL: Final = "PACT_STATES_MESSAGE_URL"
#: What an unknown state gets: ``"error"`` (a 404 answer) or ``"warn"`` (a
#: logged warning and 200).
MISSING: Final = "PACT_STATES_MISSING"
#: Answer callers other than loopback addresses too.
ALLOW_REMOTE: Final = "PACT_STATES_ALLOW_REMOTE"
#: When set, requests must carry it in the ``X-Pact-States-Token`` header.
TOKEN: Final = "PACT_STATES_TOKEN"
#: Largest request body accepted, in bytes.
MAX_BODY: Final = "PACT_STATES_MAX_BODY"
#: Provider name used by ``flask pact-verify`` when none is given.
PROVIDER: Final = "PACT_STATES_PROVIDER"
#: How many state changes the per-app journal keeps for inspection.
JOURNAL_SIZE: Final = "PACT_STATES_JOURNAL_SIZE"
#: Seconds a state change waits for the one before it to finish.
LOCK_TIMEOUT: Final = "PACT_STATES_LOCK_TIMEOUT"
#: Point the verifier at a minimal trust store when no source needs TLS
#: (see :mod:`flask_pact_states.runner.process`); the ``verify()`` argument and
#: the CLI flag win over it.
MINIMAL_TRUST_STORE: Final = "PACT_STATES_MINIMAL_TRUST_STORE"
#: Let the runner answer the verifier's state calls directly, in an app
#: context, rather than through the app's request handling (``before_request``
#: hooks, WSGI middleware); see
#: :class:`flask_pact_states.provider.endpoint.DirectStateCalls`.
#: The ``verify()`` argument and the CLI flag win over it.
DIRECT_STATE_CALLS: Final = "PACT_STATES_DIRECT_STATE_CALLS"

TOKEN_HEADER: Final = "X-Pact-States-Token"
MISSING_MODES: Final = frozenset({"error", "warn"})

DEFAULTS: Final[Mapping[str, Any]] = {
    ENABLED: None,
    URL: "/_pact/provider_states",
    MESSAGE_URL: "/_pact/message",
    MISSING: "error",
    ALLOW_REMOTE: False,
    TOKEN: None,
    MAX_BODY: 1024 * 1024,
    PROVIDER: None,
    JOURNAL_SIZE: 1000,
    # Below the verifier's default 5 s request timeout, so a call stuck behind a
    # hung handler gets a clear answer before the verifier gives up on it.
    LOCK_TIMEOUT: 4.0,
    MINIMAL_TRUST_STORE: True,
    DIRECT_STATE_CALLS: True,
}


def apply_defaults(config: dict[str, Any]) -> None:
    """Fill in every key the app did not set: values set before win."""
    for key, value in DEFAULTS.items():
        config.setdefault(key, value)


@dataclass(frozen=True)
class Settings:
    """The ``PACT_STATES_*`` values the extension reads, fixed at ``init_app``."""

    url: str
    message_url: str
    missing: str
    allow_remote: bool
    token: str | None
    max_body: int
    lock_timeout: float
    provider: str | None
    journal_size: int

    @classmethod
    def from_config(cls, values: Mapping[str, Any]) -> Settings:
        """Read and check the settings from an app's config (defaults applied).

        :raises ConfigError: for a value the extension cannot work with.
        """
        missing = values[MISSING]
        if missing not in MISSING_MODES:
            msg = f"{MISSING} must be 'error' or 'warn', got {missing!r}."
            raise ConfigError(msg)
        url, message_url = _path(values, URL), _path(values, MESSAGE_URL)
        if url.rstrip("/") == message_url.rstrip("/"):
            msg = f"{URL} and {MESSAGE_URL} must differ, both are {url!r}."
            raise ConfigError(msg)
        return cls(
            url=url,
            message_url=message_url,
            missing=missing,
            allow_remote=bool(values[ALLOW_REMOTE]),
            token=values[TOKEN] or None,
            max_body=int(_positive(values, MAX_BODY)),
            lock_timeout=_positive(values, LOCK_TIMEOUT),
            provider=values[PROVIDER],
            journal_size=_positive_int(values, JOURNAL_SIZE),
        )


def _path(values: Mapping[str, Any], key: str) -> str:
    path = values[key]
    if not isinstance(path, str) or not path.startswith("/"):
        msg = f"{key} must be a path starting with '/', got {path!r}."
        raise ConfigError(msg)
    return path


def _positive(values: Mapping[str, Any], key: str) -> float:
    """The number at ``key``, checked now rather than at the first request."""
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        msg = f"{key} must be a positive number, got {value!r}."
        raise ConfigError(msg)
    return float(value)


def _positive_int(values: Mapping[str, Any], key: str) -> int:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{key} must be a positive whole number, got {value!r}."
        raise ConfigError(msg)
    return value
