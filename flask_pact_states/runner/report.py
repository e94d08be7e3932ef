"""Rendering: a verification result as text, JUnit XML and JSON, and the
``flask pact-states`` listings.

The text report reads top to bottom: one line per interaction, then each
failure with its reason, then coverage, and a last line ``N passed, M failed``
that scripts may parse.
"""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ..provider.registry import Handler, StateRegistry
    from .coverage import Coverage, MissingState
    from .results import InteractionResult, VerificationResult

_MARKS: Final = {"passed": "PASS", "failed": "FAIL", "pending": "PEND"}
_INDENT: Final = "   "
_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m)\b")
#: Characters XML 1.0 cannot hold, even escaped.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SECONDS: Final = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def title(interaction: InteractionResult) -> str:
    """``Consumer: description [state, state]``."""
    states = f" [{', '.join(interaction.states)}]" if interaction.states else ""
    return f"{interaction.consumer}: {interaction.description}{states}"


def render_text(result: VerificationResult) -> str:
    """The human report of ``result``; its last line is ``N passed, M failed``."""
    consumers = {i.consumer for i in result.interactions}
    lines = [
        f"Verifying provider {result.provider!r}: {len(result.interactions)}"
        f" interaction(s) from {len(consumers)} consumer(s)",
        *_provider_hint(result),
        "",
    ]
    lines += [f"  {_MARKS[i.status]}  {title(i)}" for i in result.interactions]
    lines += _failures(result)
    lines += _section("Errors", result.errors)
    lines += _coverage(result)
    lines += _section("Notes", result.notes)
    pending = result.count("pending")
    if pending:
        lines += ["", f"{pending} failure(s) in pending pacts, not counted."]
    lines += ["", f"{result.count('passed')} passed, {result.count('failed')} failed"]
    return "\n".join(lines) + "\n"


def _provider_hint(result: VerificationResult) -> list[str]:
    if not result.provider_named_by_pacts:
        return []
    return [
        "(The provider name comes from the pacts: pin it with --provider or"
        " PACT_STATES_PROVIDER, so that no other provider's pacts pass.)"
    ]


def _failures(result: VerificationResult) -> list[str]:
    if not result.failures:
        return []
    lines = ["", "Failures"]
    for number, interaction in enumerate(result.failures, 1):
        pending = " (pending pact: does not fail the run)" * interaction.pending
        lines += ["", f"{number}) {title(interaction)}{pending}"]
        lines.append(textwrap.indent(interaction.reason, _INDENT))
    return lines


def _section(heading: str, entries: list[str]) -> list[str]:
    if not entries:
        return []
    return ["", heading, *(textwrap.indent(entry, "  ") for entry in entries)]


def _coverage(result: VerificationResult) -> list[str]:
    lines = ["", "Coverage"]
    unused = result.unused_handlers or result.unused_producers
    if not result.missing_states and not unused:
        if not result.interactions:
            return []
        return [*lines, "  Every state has a handler, and every handler was used."]
    if result.missing_states:
        lines.append("  States with no handler:")
        # Stubs already shown with a failure are not repeated.
        shown = {
            i.state_failure.state
            for i in result.failures
            if i.state_failure and i.state_failure.stub
        }
        for missing in result.missing_states:
            lines.append(f"    {describe_missing(missing)}")
            if missing.state not in shown:
                lines.append(textwrap.indent(missing.stub.rstrip(), "        "))
    if result.unused_handlers:
        lines.append("  Handlers no verified interaction used:")
        lines += [f"    {describe_handler(h)}" for h in result.unused_handlers]
    if result.unused_producers:
        lines.append("  Message producers no verified interaction used:")
        lines += [f"    {describe_handler(h)}" for h in result.unused_producers]
    return lines


def describe_missing(missing: MissingState) -> str:
    """``'state' (consumer 'C'), used by: a, b; did you mean 'x'?``."""
    consumer = f" (consumer {missing.consumer!r})" if missing.consumer else ""
    used = f"{missing.state!r}{consumer}, used by: {', '.join(missing.descriptions)}"
    if not missing.close_matches:
        return used
    return f"{used}; did you mean {' or '.join(map(repr, missing.close_matches))}?"


def describe_handler(handler: Handler) -> str:
    """``module.func() for 'a', 'b' [consumer 'C'] at path:line``."""
    names = ", ".join(map(repr, handler.names))
    scope = f" [consumer {handler.consumer!r}]" if handler.consumer else ""
    return f"{handler.qualname}() for {names}{scope} at {handler.location}"


def render_junit(result: VerificationResult) -> str:
    """``result`` as JUnit XML: a test suite per consumer, a test per interaction."""
    root = ET.Element("testsuites", name=f"pact-verify {result.provider}")
    suites: dict[str, ET.Element] = {}
    for interaction in result.interactions:
        suite = suites.get(interaction.consumer)
        if suite is None:
            suite = ET.SubElement(root, "testsuite", name=interaction.consumer)
            suites[interaction.consumer] = suite
        _testcase(suite, result.provider, interaction)
    if result.errors:
        suite = ET.SubElement(root, "testsuite", name="verification")
        case = ET.SubElement(suite, "testcase", classname=result.provider, name="run")
        error = ET.SubElement(case, "error", message=result.errors[0].splitlines()[0])
        error.text = "\n".join(result.errors)
    for suite in [root, *root]:
        _count(suite)
    for element in root.iter():
        _xml_safe(element)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _testcase(suite: ET.Element, provider: str, interaction: InteractionResult) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"{provider}.{interaction.consumer}",
        name=title(interaction).partition(": ")[2],
        time=f"{duration_seconds(interaction.duration):.3f}",
    )
    if interaction.passed:
        return
    reason = interaction.reason
    message = reason.splitlines()[0] if reason else "failed"
    if interaction.pending:
        ET.SubElement(case, "skipped", message=f"pending pact: {message}")
        return
    cause = interaction.state_failure
    kind = "mismatch" if cause is None else "message" if cause.is_message else "state"
    failure = ET.SubElement(case, "failure", message=message, type=kind)
    failure.text = reason


def _xml_safe(element: ET.Element) -> None:
    """Escape what XML 1.0 cannot hold (control characters, lone surrogates):
    ElementTree would write them as they are, making the file invalid."""
    if element.text:
        element.text = xml_text(element.text)
    for name, value in element.attrib.items():
        element.set(name, xml_text(value))


def xml_text(text: str) -> str:
    """``text`` with each character XML 1.0 forbids as a visible escape."""
    return _NOT_XML.sub(lambda m: ascii(m.group())[1:-1], text)


def _count(suite: ET.Element) -> None:
    cases = list(suite.iter("testcase"))
    suite.set("tests", str(len(cases)))
    for tag, attribute in (("failure", "failures"), ("error", "errors")):
        suite.set(attribute, str(sum(c.find(tag) is not None for c in cases)))
    suite.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))


def duration_seconds(text: str | None) -> float:
    """The verifier's duration text (``"1s 21ms"``) in seconds."""
    if not text:
        return 0.0
    return sum(
        float(value) * _SECONDS[unit] for value, unit in _DURATION_PART.findall(text)
    )


def as_dict(result: VerificationResult) -> dict[str, Any]:
    """``result`` as plain JSON-ready data."""
    return {
        "provider": result.provider,
        "passed": result.passed,
        "counts": {s: result.count(s) for s in ("passed", "failed", "pending")},
        "interactions": [_interaction_dict(i) for i in result.interactions],
        "missing_states": [
            {
                "state": m.state,
                "consumer": m.consumer,
                "params": dict(m.params),
                "descriptions": list(m.descriptions),
                "stub": m.stub,
            }
            for m in result.missing_states
        ],
        "unused_handlers": [_handler_dict(h) for h in result.unused_handlers],
        "unused_producers": [_handler_dict(h) for h in result.unused_producers],
        "errors": list(result.errors),
        "notes": list(result.notes),
    }


def _handler_dict(handler: Handler) -> dict[str, Any]:
    return {
        "handler": handler.qualname,
        "states": list(handler.names),
        "consumer": handler.consumer,
        "location": handler.location,
    }


def _interaction_dict(interaction: InteractionResult) -> dict[str, Any]:
    failure = interaction.state_failure
    return {
        "consumer": interaction.consumer,
        "description": interaction.description,
        "states": list(interaction.states),
        "status": interaction.status,
        "duration": interaction.duration,
        "mismatch": interaction.mismatch,
        "reason": interaction.reason,
        "state_failure": None
        if failure is None
        else {
            "state": failure.state,
            "params": dict(failure.params),
            "consumer": failure.consumer,
            "action": failure.action,
            "outcome": failure.outcome,
            "handler": failure.handler,
            "exception_type": failure.exception_type,
            "message": failure.message,
            "traceback": failure.traceback,
            "stub": failure.stub,
        },
    }


def render_handlers(
    registry: StateRegistry, producers: StateRegistry | None = None
) -> str:
    """``flask pact-states list``: each state name (and message description),
    scope and handler location."""
    lines = _handler_lines(registry)
    if producers is not None and producers.handlers:
        lines += ["", *_handler_lines(producers)]
    return "\n".join(lines) + "\n"


def _handler_lines(registry: StateRegistry) -> list[str]:
    handlers = registry.handlers
    states = registry.kind_of_name == "state"
    noun = "state name(s)" if states else "message description(s)"
    if not handlers:
        return [
            "No state handlers are registered. Add one with"
            " @states.register('a state') in the module the app factory imports."
        ]
    what = "handler(s)" if states else "producer(s)"
    lines = [f"{len(registry)} {noun}, {len(handlers)} {what}:", ""]
    for handler in handlers:
        scope = f"consumer {handler.consumer!r}" if handler.consumer else "any consumer"
        for name in handler.names:
            lines.append(f"  {name!r}  ({scope})  ->  {handler.qualname}()")
        lines.append(f"      {handler.kind.value} at {handler.location}")
    return lines


def render_check(
    coverage: Coverage, pact_count: int, producers: Coverage | None = None
) -> str:
    """``flask pact-states check``: which handler answers each state, and
    which producer each message."""
    lines = [f"States used by {pact_count} pact file(s):", ""]
    answered, missing = _check_lines(coverage, lines, "handler")
    if producers is not None and (producers.answered or producers.missing):
        lines += ["", f"Messages of {pact_count} pact file(s):", ""]
        more = _check_lines(producers, lines, "producer")
        answered, missing = answered + more[0], missing + more[1]
    lines += ["", f"{answered} answered, {missing} missing"]
    return "\n".join(lines) + "\n"


def _check_lines(coverage: Coverage, lines: list[str], what: str) -> tuple[int, int]:
    answered: dict[tuple[str, str | None, str], list[str]] = {}
    for entry in coverage.answered:
        use = entry.use
        key = (use.state, use.consumer, f"{entry.handler.qualname}()")
        answered.setdefault(key, []).append(use.description)
    for (state, consumer, handler), descriptions in answered.items():
        lines.append(f"  OK       {state!r} ({consumer}: {', '.join(descriptions)})")
        lines.append(f"           -> {handler}")
    for missing in coverage.missing:
        lines.append(f"  MISSING  {describe_missing(missing)}")
    if coverage.missing:
        lines += ["", f"Add these {what}s (ready to paste):", ""]
        lines += [missing.stub for missing in coverage.missing]
    if coverage.unused_handlers:
        lines += ["", f"{what.capitalize()}s no pact uses:"]
        lines += [f"  {describe_handler(h)}" for h in coverage.unused_handlers]
    return len(answered), len(coverage.missing)
