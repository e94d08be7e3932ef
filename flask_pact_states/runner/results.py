"""Verification results: what the verifier said, explained with the journal.

The result types; :mod:`.assembly` builds them from the runs' outcomes
(pairing each verifier result with the journal's records of its state calls
in :mod:`.pairing`), and :mod:`.report` renders them (text, JUnit, JSON).

A green result means every planned interaction was verified: a run that
verified fewer than its plan, or whose verifier failed to run, is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..provider.journal import StateChangeRecord
from ..provider.messages import MESSAGE_ACTION
from ..provider.registry import Handler
from ..provider.stubs import handler_stub, producer_stub
from .coverage import MissingState

if TYPE_CHECKING:
    from .plan import VerifierRun


@dataclass(frozen=True)
class StateFailure:
    """Why a state change failed, as the endpoint recorded it.

    .. versionadded:: 0.1
    """

    state: str
    params: Mapping[str, Any]
    consumer: str | None
    action: str
    #: ``error`` (the handler raised), ``missing`` (no handler) or ``rejected``.
    outcome: str
    handler: str | None = None
    exception_type: str | None = None
    message: str | None = None
    traceback: str | None = None
    #: The status the endpoint answered.
    status: int | None = None

    @property
    def is_message(self) -> bool:
        """Whether the message producer failed (``state`` is then the
        message's description), not a state handler."""
        return self.action == MESSAGE_ACTION

    @property
    def stub(self) -> str | None:
        """A handler (or producer) to paste, for a missing one."""
        if self.outcome != "missing":
            return None
        # Unscoped, as in MissingState.stub: it answers every consumer.
        stub = producer_stub if self.is_message else handler_stub
        return stub(self.state, self.params, None)

    @property
    def summary(self) -> str:
        """One sentence: which state, and what went wrong."""
        if self.is_message:
            return self._message_summary()
        where = f"{self.action} of state {self.state!r} (params {dict(self.params)})"
        if self.outcome == "missing":
            by = f" from consumer {self.consumer!r}" if self.consumer else ""
            return f"No handler is registered for state {self.state!r}{by}."
        if self.exception_type:
            handler = f" in {self.handler}()" if self.handler else ""
            return f"{where} failed{handler}: {self.exception_type}: {self.message}"
        if self.outcome == "rejected" and not self.state:
            # Refused before its body was read: the state is not known.
            where = f"A {self.action} call to the state endpoint"
        status = f" with {self.status}" if self.status else ""
        return f"{where} was refused{status}: {self.message}"

    def _message_summary(self) -> str:
        if self.outcome == "missing":
            by = f" from consumer {self.consumer!r}" if self.consumer else ""
            return f"No producer is registered for message {self.state!r}{by}."
        where = f"Producing message {self.state!r} (params {dict(self.params)})"
        if self.exception_type:
            handler = f" in {self.handler}()" if self.handler else ""
            return f"{where} failed{handler}: {self.exception_type}: {self.message}"
        return f"{where} was refused: {self.message}"


@dataclass(frozen=True)
class InteractionResult:
    """The outcome of one interaction.

    .. versionadded:: 0.1
    """

    consumer: str
    description: str
    states: tuple[str, ...]
    passed: bool
    #: A failure of a pending pact: reported, but it does not fail the run.
    pending: bool = False
    #: The verifier's mismatch text, one line per mismatch.
    mismatch: str = ""
    state_failure: StateFailure | None = None
    duration: str | None = None

    @property
    def status(self) -> str:
        """``passed``, ``failed`` or ``pending`` (a failure that does not count)."""
        if self.passed:
            return "passed"
        return "pending" if self.pending else "failed"

    @property
    def reason(self) -> str:
        """Why it failed: the state handler's exception, or the mismatches."""
        if self.passed:
            return ""
        failure = self.state_failure
        if failure is None:
            return self.mismatch or "The verifier gave no reason."
        parts = [failure.summary]
        if failure.traceback:
            parts.append(trim_traceback(failure.traceback))
        if failure.stub:
            what = "producer" if failure.is_message else "handler"
            parts.append(f"Add a {what}:\n" + failure.stub.rstrip())
        return "\n".join(parts)


@dataclass
class VerificationResult:
    """What :func:`~flask_pact_states.verify` found.

    .. versionadded:: 0.1
    """

    provider: str
    interactions: list[InteractionResult] = field(default_factory=list)
    #: States used by the pacts (or asked for by the verifier) with no handler.
    missing_states: list[MissingState] = field(default_factory=list)
    #: Handlers no verified interaction used.
    unused_handlers: list[Handler] = field(default_factory=list)
    #: Message producers no verified interaction used.
    unused_producers: list[Handler] = field(default_factory=list)
    #: Problems not tied to one interaction (a source that failed to load...).
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Whether the provider name came from the pacts rather than being given.
    provider_named_by_pacts: bool = False
    #: The verifier's own report, without colours, one run after another.
    output: str = ""
    #: The verifier's JSON results, one per run.
    raw: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every interaction passed (pending ones aside), and some ran."""
        return (
            not self.errors
            and bool(self.interactions)
            and not any(i.status == "failed" for i in self.interactions)
        )

    @property
    def failures(self) -> list[InteractionResult]:
        """Interactions that failed, pending ones included."""
        return [i for i in self.interactions if not i.passed]

    def count(self, status: str) -> int:
        """How many interactions have ``status``: passed, failed or pending."""
        return sum(i.status == status for i in self.interactions)

    def filtered(
        self,
        consumer: str | None = None,
        description: str | None = None,
        state: str | None = None,
    ) -> list[InteractionResult]:
        """The interactions of ``consumer`` with ``description`` and ``state``."""
        return [
            i
            for i in self.interactions
            if (consumer is None or i.consumer == consumer)
            and (description is None or i.description == description)
            and (state is None or state in i.states)
        ]

    def report(self) -> str:
        """The human report: interactions, failures, coverage, then counts."""
        from .report import render_text

        return render_text(self)

    def to_junit(self) -> str:
        """The result as JUnit XML (a test suite per consumer)."""
        from .report import render_junit

        return render_junit(self)

    def to_json(self) -> str:
        """The result as a JSON document."""
        import json

        from .report import as_dict

        return json.dumps(as_dict(self), indent=2)


@dataclass(frozen=True)
class RunOutcome:
    """What one verifier run returned, with the state changes it caused."""

    run: VerifierRun
    results: Mapping[str, Any]
    output: str
    records: Sequence[StateChangeRecord]
    #: Why publishing results to the broker failed; the verifier only logs it.
    publish_errors: tuple[str, ...] = ()
    #: Why the run did not verify what it should have (the verifier failed
    #: to run, a handler hung past the run), each naming the run.
    errors: tuple[str, ...] = ()


def trim_traceback(text: str) -> str:
    """A traceback without the frames of flask_pact_states itself."""
    import os

    # flask_pact_states/, not runner/: the frames are in provider/.
    package = os.path.dirname(os.path.dirname(__file__))
    lines = text.rstrip("\n").splitlines()
    if not lines or not lines[0].startswith("Traceback"):
        return text.rstrip("\n")
    kept = [lines[0]]
    skipping = False
    for line in lines[1:]:
        if line.startswith('  File "'):
            skipping = line[len('  File "') :].startswith(package + os.sep)
        if not skipping or not line.startswith("  "):
            kept.append(line)
    return "\n".join(kept)
