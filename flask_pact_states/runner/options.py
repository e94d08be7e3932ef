"""One object for a verification's choices: :class:`VerifyOptions`.

The CLI, :func:`~flask_pact_states.verify` and the pytest plugin all build
one, and the runner reads nothing else, so a new option is one field here
plus the code that uses it. Its checks run when it is built: a mistake is a
clear :class:`~flask_pact_states.errors.VerificationSetupError` before any
pact is read or server started.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .. import config
from ..errors import VerificationSetupError
from .broker import BrokerOptions, PublishOptions

if TYPE_CHECKING:
    from flask import Flask

#: Interactions per verifier run for large local pacts. A run costs a fixed
#: ~9 ms plus ~24 µs per interaction for each interaction in it (the verifier
#: clones the whole pact per interaction), so the best size is near
#: sqrt(9 ms / 24 µs) = 19. Measured: at 1,000 interactions, in one process,
#: 10 and 20 were fastest, 5 about 11%, 50 about 7% and 100 about 16% slower;
#: at 5,000, whole processes (``python -m benchmarks.fast --sizes 5000
#: --chunk-sizes 10,100``), 10 took 0.98x and 100 1.07x the time of 20.
#: Pacts with bigger interactions clone slower, which favours smaller chunks.
DEFAULT_CHUNK_SIZE: Final = 20
#: Seconds the verifier waits for each request (the verifier's own default).
DEFAULT_REQUEST_TIMEOUT: Final = 5.0

#: Called with (interactions started, interactions expected or None).
Progress = Callable[[int, int | None], None]
#: How a worker gets its app: a Flask ``--app`` import string (e.g.
#: ``"myapp.tests:create_test_app"``) or a picklable callable returning it.
AppFactory = str | Callable[[], "Flask"]


@dataclass(frozen=True, kw_only=True)
class VerifyOptions:
    """What to verify and how: every choice of one verification.

    ``None`` for :attr:`provider`, :attr:`minimal_trust_store` and
    :attr:`direct_state_calls` means "the app's config decides"
    (``PACT_STATES_PROVIDER`` and friends, see :meth:`for_app`); an argument
    given here always wins over the config.

    :raises VerificationSetupError: for options that cannot work: no
        sources, a bad filter, chunk size, timeout or job count, or jobs
        without an app factory.

    .. versionadded:: 0.1
    """

    #: Pact files, directories of them, and ``http(s)://`` URLs.
    sources: tuple[str | Path, ...] = ()
    #: The provider name; ``None``: ``PACT_STATES_PROVIDER``, then the name
    #: the local pacts agree on.
    provider: str | None = None
    #: Verify only these consumers' pacts.
    consumers: tuple[str, ...] = ()
    #: Verify only interactions whose description matches this regex.
    description: str | None = None
    #: Verify only interactions with a state matching this regex (``""``:
    #: interactions without states).
    state: str | None = None
    #: Fetch pacts from a Pact Broker too.
    broker: BrokerOptions | None = None
    #: Publish results to the broker (only for broker pacts).
    publish: PublishOptions | None = None
    #: Seconds the verifier waits for each request.
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    #: When no source needs TLS, point the verifier at a one-certificate
    #: trust store rather than the system's (much faster).
    minimal_trust_store: bool | None = None
    #: Answer the verifier's state calls in an app context in front of the
    #: app, skipping its request handling; ``False`` sends them through the
    #: app, as an outside verifier would.
    direct_state_calls: bool | None = None
    #: Verify a local pact of more interactions than this as several runs of
    #: at most this many; ``0`` turns it off.
    chunk_size: int = DEFAULT_CHUNK_SIZE
    #: Processes to verify in: this one and ``jobs - 1`` spawned workers;
    #: ``"auto"``: one per core.
    jobs: int | str = 1
    #: How a worker builds its app; needed when :attr:`jobs` is not 1.
    app_factory: AppFactory | None = None
    #: Called with (started, expected) as interactions start here and as
    #: workers finish runs (never two calls at once).
    progress: Progress | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Tuples, so that a list or a lone string passed in stays fixed.
        object.__setattr__(self, "sources", _tuple(self.sources))
        object.__setattr__(self, "consumers", _tuple(self.consumers))
        _check_sources(self)
        compile_filter(self.description, "description")
        compile_filter(self.state, "state")
        _check_numbers(self)
        if self.processes > 1 and self.app_factory is None:
            msg = (
                f"jobs={self.jobs!r} needs app_factory: each worker process builds"
                " its own app, e.g. app_factory='myapp.tests:create_test_app'."
            )
            raise VerificationSetupError(msg)

    def __getstate__(self) -> dict[str, Any]:
        # Workers get the plan pickled; the callback stays in this process.
        return {**self.__dict__, "progress": None}

    @property
    def processes(self) -> int:
        """How many processes :attr:`jobs` asks for (``"auto"``: the cores)."""
        if self.jobs == "auto":
            return os.cpu_count() or 1
        return self.jobs if isinstance(self.jobs, int) else 1

    def for_app(self, app_config: dict[str, Any]) -> VerifyOptions:
        """These options with every ``None`` the app's config decides filled
        in from it: arguments win over config, config over defaults."""

        def setting(value: Any, key: str) -> Any:
            return app_config.get(key, config.DEFAULTS[key]) if value is None else value

        return replace(
            self,
            provider=setting(self.provider, config.PROVIDER),
            minimal_trust_store=bool(
                setting(self.minimal_trust_store, config.MINIMAL_TRUST_STORE)
            ),
            direct_state_calls=bool(
                setting(self.direct_state_calls, config.DIRECT_STATE_CALLS)
            ),
        )

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Each field's default, for the CLI's ``show_default``."""
        return {f.name: f.default for f in fields(cls)}


def compile_filter(pattern: str | None, name: str) -> re.Pattern[str] | None:
    """Compile a description or state filter, as the verifier reads it.

    :raises VerificationSetupError: for an invalid regular expression.
    """
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as error:
        msg = f"The {name} filter {pattern!r} is not a regular expression: {error}."
        raise VerificationSetupError(msg) from None


def _tuple(values: Any) -> tuple[Any, ...]:
    return (values,) if isinstance(values, str | Path) else tuple(values)


def _check_sources(options: VerifyOptions) -> None:
    if not options.sources and options.broker is None:
        msg = (
            "No pact sources: pass pact files, directories or URLs, or a Pact"
            " Broker (--broker-url, or PACT_BROKER_BASE_URL)."
        )
        raise VerificationSetupError(msg)


def _check_numbers(options: VerifyOptions) -> None:
    chunk_size, timeout, jobs = (
        options.chunk_size,
        options.request_timeout,
        options.jobs,
    )
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int)
        or chunk_size < 0
    ):
        msg = f"The chunk size must be 0 (off) or positive, got {chunk_size!r}."
        raise VerificationSetupError(msg)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or timeout <= 0
    ):
        msg = f"The request timeout must be positive, got {timeout!r} s."
        raise VerificationSetupError(msg)
    if jobs != "auto" and (
        isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1
    ):
        msg = f"jobs (--jobs) must be a positive number or 'auto', got {jobs!r}."
        raise VerificationSetupError(msg)
