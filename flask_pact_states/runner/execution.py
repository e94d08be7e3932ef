"""One verifier run against the served app.

:func:`execute_run` configures :class:`pact.Verifier` for one
:class:`~.plan.VerifierRun` (teardown on, JSON body, the state URL pointing at
the extension's endpoint), runs it and returns what it reported. Both
:func:`~.api.verify` and the ``--jobs`` workers (:mod:`.parallel`) call it, each
against the app it serves (:func:`served_app`, described by a
:class:`Target`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from ..errors import NotSetUpError, VerificationSetupError
from ..provider.endpoint import DirectStateCalls
from ..provider.journal import StateChangeRecord
from ..provider.state import get_app_states
from .broker import configure_broker
from .plan import VerificationPlan, VerifierRun
from .results import RunOutcome
from .streams import StderrTail, StdoutSilencer

#: How a panic of the verifier's Rust core is quoted, and at most how much.
_PANIC: Final = "its Rust core panicked"
_PANIC_TEXT: Final = 200
#: The verifier's colours, in the report text its results hold.
_ANSI: Final = re.compile(r"\x1b\[[0-9;]*m")

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from flask import Flask
    from pact import Verifier

    from ..provider.state import AppStates


def served_app(app: Flask, *, direct_state_calls: bool) -> WSGIApplication:
    """What the runner serves: ``app``, behind the door that answers state
    calls directly (unless told not to) and keeps the token off the rest."""
    return DirectStateCalls(app, direct=direct_state_calls)


def app_states(app: Flask) -> AppStates:
    """The app's PactStates service, or an error saying how to set it up."""
    try:
        return get_app_states(app)
    except NotSetUpError:
        msg = (
            f"The app {app.name!r} has no PactStates, so there is no state"
            " endpoint to verify against. Call states.init_app(app) in a"
            " test-only app factory and point the command at it, e.g."
            " flask --app myapp.tests:create_test_app pact-verify pacts/."
        )
        raise VerificationSetupError(msg) from None


@dataclass(frozen=True)
class Target:
    """Where the served app answers: its base URL, state path, token and
    message path."""

    base_url: str
    state_path: str
    token: str | None
    message_path: str = "/_pact/message"
    #: The state door's base URL (:mod:`.door`), when state calls go there.
    door_url: str | None = None

    def state_url(self, consumer: str | None) -> str:
        """The state-change URL, scoped to ``consumer`` when known."""
        url = f"{self.door_url or self.base_url}{self.state_path}"
        return f"{url}?consumer={quote(consumer, safe='')}" if consumer else url


def execute_run(
    run: VerifierRun,
    plan: VerificationPlan,
    target: Target,
    silencer: StdoutSilencer | None = None,
    on_start: Callable[[], list[StateChangeRecord]] | None = None,
) -> RunOutcome:
    """Execute one verifier run against the served app; blocks until done.

    :param on_start: returns the list the journal records of this run go to.
    :raises VerificationSetupError: when pact-python refuses an option.
    """
    from pact import Verifier

    records = on_start() if on_start else []
    verifier = Verifier(plan.provider, host="127.0.0.1")
    try:
        _configure(verifier, run, plan, target)
    except (ValueError, TypeError) as error:
        msg = f"The verifier refused the options of run {run.label!r}: {error}"
        raise VerificationSetupError(msg) from None
    publishing = plan.options.publish is not None and run.broker is not None
    with (
        silencer.silenced() if silencer else _nothing(),
        _PublishErrors.caught() if publishing else _nothing() as publish_errors,
        StderrTail.captured() as stderr,
    ):
        raised = _verify(verifier)
        results, output, crashes = _read_back(verifier)
        if raised or crashes:
            crashes = [*crashes, *_panics(stderr())]
    return RunOutcome(
        run=run,
        results=results,
        output=output,
        records=records,
        publish_errors=tuple(publish_errors.messages) if publish_errors else (),
        errors=_failed_to_run(run, results, output, raised, crashes),
    )


def _verify(verifier: Verifier) -> str | None:
    """Run the verifier; the text of the error it raised, if any.

    pact-python raises the same ``RuntimeError`` for a verification that
    failed and for one that could not run at all (a panic in the Rust core,
    a pact it cannot load): :func:`_failed_to_run` tells them apart.
    """
    try:
        verifier.verify()
    except RuntimeError as error:
        return str(error)
    return None


def _read_back(verifier: Verifier) -> tuple[Mapping[str, Any], str, list[str]]:
    """The verifier's JSON results and report text, and what failed reading them.

    Each may fail on odd input (a NUL in a description makes the Rust core
    panic writing its report): what could be read is kept.
    """
    crashes = []
    try:
        results: Mapping[str, Any] = verifier.results
    except (RuntimeError, ValueError) as error:
        crashes.append(f"its results could not be read ({error})")
        results = {}
    # The report text is in the results too; the FFI's own copy of it is a
    # C string, which a NUL in a description breaks.
    lines = results.get("output")
    if isinstance(lines, list):
        output = _ANSI.sub("", "\n".join(str(line) for line in lines))
        output = output + "\n" if output else ""
    else:
        output = ""
    return results, output, crashes


def _failed_to_run(
    run: VerifierRun,
    results: Mapping[str, Any],
    output: str,
    raised: str | None,
    crashes: list[str],
) -> tuple[str, ...]:
    """Why the verifier did not verify the run, when it did not.

    It raised, yet its results show no failure: it failed outright.
    """
    panics = [c for c in crashes if c.startswith(_PANIC)]
    failures = [c for c in crashes if not c.startswith(_PANIC)]
    if failures:
        # It ran, and then could not report: what it panicked with says why.
        why = "; ".join([*failures, *panics])
        return (f"Verifying {run.label}: the verifier failed: {why}",)
    if raised is None or _reports_a_failure(results):
        return ()
    said = [line.strip() for line in output.splitlines() if line.strip()]
    why = "; ".join(said[-5:] + panics) or (
        "it gave no reason; check the pact for values of the wrong type, such"
        " as a status that is a string"
    )
    return (f"Verifying {run.label}: the verifier failed to run: {why}",)


def _panics(stderr: str) -> list[str]:
    """What the Rust core panicked with, from its stderr: the panic's place
    and message, each cut short (a NulError dumps every byte)."""
    lines = stderr.splitlines()
    found = []
    for number, line in enumerate(lines):
        if "panicked at" in line and number + 1 < len(lines):
            place = line.partition("panicked at")[2].strip().rstrip(":")
            message = lines[number + 1].strip()[:_PANIC_TEXT]
            found.append(f"{_PANIC} at {place}: {message}")
    return found[-3:]


def _reports_a_failure(results: Mapping[str, Any]) -> bool:
    entries = results.get("interactionResults")
    failed = isinstance(entries, list) and any(
        isinstance(e, dict) and e.get("result") != "OK" for e in entries
    )
    return failed or bool(results.get("errors")) or results.get("result") is False


def end_run(states: AppStates, outcome: RunOutcome) -> RunOutcome:
    """Undo the run's last interaction; a handler still running (hung) fails
    the run, named with where it hangs. Never waits longer than
    ``PACT_STATES_LOCK_TIMEOUT``.
    """
    hung = states.reset(wait=states.settings.lock_timeout)
    if hung is None:
        return outcome
    error = f"Verifying {outcome.run.label}: {hung}"
    return replace(outcome, errors=(*outcome.errors, error))


class _PublishErrors(logging.Handler):
    """Catches the verifier's log record of a failed publication.

    The verifier passes a run whose results the broker refused, and only logs
    why: a result the broker never got must fail the run, with that reason.
    """

    _MARK: Final = "Publishing of verification results failed"

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if self._MARK in message:
            self.messages.append(message.split(": ", 1)[-1])

    @classmethod
    @contextmanager
    def caught(cls) -> Iterator[_PublishErrors]:
        handler = cls()
        logger = logging.getLogger("pact.ffi")
        logger.addHandler(handler)
        try:
            yield handler
        finally:
            logger.removeHandler(handler)


def _configure(
    verifier: Verifier, run: VerifierRun, plan: VerificationPlan, target: Target
) -> None:
    verifier.add_transport(url=target.base_url)
    _add_message_transport(verifier, run, target)
    verifier.state_handler(target.state_url(run.consumer), teardown=True, body=True)
    verifier.set_request_timeout(round(plan.options.request_timeout * 1000))
    verifier.set_coloured_output(enabled=False)
    if target.token:
        from ..config import TOKEN_HEADER

        verifier.add_custom_header(TOKEN_HEADER, target.token)
    if plan.options.description or plan.options.state:
        verifier.filter(plan.options.description, state=plan.options.state)
    for path in run.files:
        verifier.add_source(path)
    for url in run.urls:
        verifier.add_source(url)
    if run.consumers:
        verifier.filter_consumers(*run.consumers)
    if run.broker is not None:
        configure_broker(verifier, run.broker)
    if plan.options.publish is not None and run.broker is not None:
        verifier.set_publish_options(
            plan.options.publish.provider_version,
            url=plan.options.publish.build_url,
            branch=plan.options.publish.branch,
            tags=list(plan.options.publish.tags),
        )


def _add_message_transport(
    verifier: Verifier, run: VerifierRun, target: Target
) -> None:
    """The verifier's message transport: the served app's message endpoint.

    Always added: a broker's pacts may hold messages too, and a transport
    an HTTP-only run never uses costs nothing.
    """
    port = int(target.base_url.rsplit(":", 1)[1])
    path = target.message_path
    if run.consumer:
        path += f"?consumer={quote(run.consumer, safe='')}"
    verifier.add_transport(protocol="message", port=port, path=path, scheme="http")


@contextmanager
def _nothing() -> Iterator[None]:
    yield
