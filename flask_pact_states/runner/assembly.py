"""One :class:`~.results.VerificationResult` from the outcomes of every run.

Each verifier result is paired with the journal's records of its state calls
(:mod:`.pairing`), so that a failing handler's exception reaches its
interaction; a run that verified fewer interactions than planned, or whose
verifier failed to run, becomes an error: green means every planned
interaction was verified.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from ..provider.journal import StateChangeRecord
from ..provider.messages import MESSAGE_ACTION
from ..provider.registry import StateRegistry
from .coverage import StateUse, check_coverage, states_used
from .pairing import group_records, pair_records
from .results import InteractionResult, RunOutcome, StateFailure, VerificationResult

if TYPE_CHECKING:
    from .plan import VerificationPlan

#: Where each kind of response mismatch is, for the report.
_MISMATCH_PLACES: Final = {
    "StatusMismatch": "status",
    "HeaderMismatch": "header",
    "BodyMismatch": "body",
    "BodyTypeMismatch": "body",
    "MetadataMismatch": "metadata",
}
#: At most this many unverified interactions are named in an error.
_NAMED: Final = 5


def build_result(
    plan: VerificationPlan,
    outcomes: Iterable[RunOutcome],
    registry: StateRegistry,
    producers: StateRegistry | None = None,
) -> VerificationResult:
    """Pair each run's verifier results with its journal records."""
    result = VerificationResult(
        plan.provider,
        notes=list(plan.notes),
        provider_named_by_pacts=plan.provider_named_by_pacts,
    )
    uses = _planned_uses(plan)
    ran: set[str] = set()
    for outcome in outcomes:
        ran.update(r.handler for r in outcome.records if r.handler)
        paired = pair_records(
            _interaction_results(outcome), group_records(outcome.records)
        )
        for entry, group in paired:
            interaction = _interaction(entry, group)
            result.interactions.append(interaction)
            uses += _observed_uses(group, interaction.description)
        result.errors += _run_errors(outcome)
        result.errors += outcome.errors
        result.errors += _unverified(outcome)
        notes = _notices(outcome) + _ignored_params(outcome)
        result.notes += [n for n in notes if n not in result.notes]
        result.output += outcome.output
        result.raw.append(outcome.results)
    coverage = check_coverage(uses, registry)
    result.missing_states = list(coverage.missing)
    # Used means ran: a handler whose state calls the app refused never did.
    result.unused_handlers = [h for h in registry.handlers if h.qualname not in ran]
    if producers is not None:
        result.unused_producers = [
            h for h in producers.handlers if h.qualname not in ran
        ]
    if not result.interactions and not result.errors:
        result.errors.append(
            "No interaction was verified: check the sources and the filters."
        )
    return result


def _planned_uses(plan: VerificationPlan) -> list[StateUse]:
    local = {run.consumer for run in plan.runs if run.files}
    pacts = [pact for pact in plan.pacts if pact.consumer in local]
    selected = {
        (pact.consumer, i.description)
        for pact in pacts
        for i in pact.interactions
        if plan.selects(i)
    }
    return [u for u in states_used(pacts) if (u.consumer, u.description) in selected]


def _observed_uses(
    group: Sequence[StateChangeRecord] | None, description: str
) -> list[StateUse]:
    return [
        StateUse(r.state, r.params, r.consumer, description)
        for r in group or ()
        if r.action == "setup" and r.state
    ]


def _interaction_results(outcome: RunOutcome) -> list[Mapping[str, Any]]:
    entries = outcome.results.get("interactionResults")
    return (
        [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    )


def _interaction(
    entry: Mapping[str, Any], group: Sequence[StateChangeRecord] | None
) -> InteractionResult:
    failed = next((r for r in group or () if r.failed), None)
    # A failed producer's error answer could still match a loose pact: the
    # journal knows, and green must mean verified.
    produced = failed is None or failed.action != MESSAGE_ACTION
    passed = entry.get("result") == "OK" and produced
    return InteractionResult(
        consumer=str(entry.get("consumer", "")),
        description=str(entry.get("description", "")),
        states=tuple(str(s) for s in entry.get("providerStates") or ()),
        passed=passed,
        pending=entry.get("pending") is True,
        mismatch="" if passed else format_mismatch(entry.get("mismatch")),
        state_failure=None if passed or failed is None else _state_failure(failed),
        duration=entry.get("duration"),
    )


def _state_failure(record: StateChangeRecord) -> StateFailure:
    return StateFailure(
        state=record.state,
        params=dict(record.params),
        consumer=record.consumer,
        action=record.action,
        outcome=record.outcome,
        handler=record.handler,
        exception_type=record.error_type,
        message=record.error_message,
        traceback=record.traceback,
        status=record.status,
    )


def format_mismatch(mismatch: Any) -> str:
    """The verifier's mismatch as text, one line per mismatch."""
    if not isinstance(mismatch, dict):
        return ""
    if mismatch.get("type") == "error":
        return str(mismatch.get("message", ""))
    lines = []
    for item in mismatch.get("mismatches") or ():
        if not isinstance(item, dict):
            continue
        kind = str(item.get("type", ""))
        place = _MISMATCH_PLACES.get(kind, kind.removesuffix("Mismatch").lower())
        detail = item.get("path") or item.get("key") or ""
        joint = "." if kind == "MetadataMismatch" else " "
        where = f"{place}{joint}{detail}" if detail else place
        lines.append(f"{where}: {item.get('mismatch', '')}")
    return "\n".join(lines)


def _run_errors(outcome: RunOutcome) -> list[str]:
    """Failures the verifier reported outside any interaction (a pact that
    did not load, a broker that refused...)."""
    results = outcome.results
    details = [
        format_mismatch(entry.get("mismatch")) or str(entry.get("interaction"))
        for entry in results.get("errors") or ()
        if isinstance(entry, dict)
        # Interaction failures are named "Verifying a pact between C and P ...".
        and not str(entry.get("interaction", "")).startswith("Verifying a pact")
    ]
    failed = any(
        entry.get("result") != "OK" and not entry.get("pending")
        for entry in _interaction_results(outcome)
    )
    if not details and results.get("result") is False and not failed:
        output = outcome.output.splitlines()
        details = [line for line in output if "failed" in line.lower()]
        details = details or ["the verifier reported a failure without detail"]
    details += [f"publishing results failed: {e}" for e in outcome.publish_errors]
    return [f"Verifying {outcome.run.label}: {detail}" for detail in details]


def _unverified(outcome: RunOutcome) -> list[str]:
    """The planned interactions the verifier did not verify, as an error.

    A green run must mean every planned interaction was verified: a pact the
    verifier could not load (one that needs a plugin, say) may otherwise end
    as "passed" with nothing verified.
    """
    run, entries = outcome.run, _interaction_results(outcome)
    if run.expected is None or len(entries) == run.expected:
        return []
    left = Counter(str(entry.get("description", "")) for entry in entries)
    missing = []
    for description in run.planned:
        if left[description] > 0:
            left[description] -= 1
        else:
            missing.append(description)
    named = ", ".join(map(repr, missing[:_NAMED]))
    more = f" and {len(missing) - _NAMED} more" if len(missing) > _NAMED else ""
    which = f": {named}{more}" if missing else ""
    return [
        f"Verifying {run.label}: the verifier verified {len(entries)} of the"
        f" {run.expected} planned interaction(s){which}. The run fails: an"
        " interaction that was not verified cannot pass."
    ]


def _ignored_params(outcome: RunOutcome) -> list[str]:
    """Params a handler dropped: a likely cause of the mismatch that follows.

    Not for message interactions: their producer may take those params.
    """
    messages = {r.interaction for r in outcome.records if r.action == MESSAGE_ACTION}
    return [
        f"Params {', '.join(map(repr, record.ignored_params))} of state"
        f" {record.state!r} reached {record.handler}(), which neither declares"
        " them nor takes **kwargs or params: they were dropped."
        for record in outcome.records
        if record.ignored_params and record.interaction not in messages
    ]


def _notices(outcome: RunOutcome) -> list[str]:
    """The broker's notices (why a pact is pending or WIP...)."""
    return [
        str(notice["text"])
        for notice in outcome.results.get("notices") or ()
        if isinstance(notice, dict) and notice.get("text")
    ]
