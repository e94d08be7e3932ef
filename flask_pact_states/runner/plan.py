"""The plan of a verification: which verifier runs, with which sources.

Built before any server starts, from the sources and options alone, so that
mistakes surface as clear errors early, and so that later speed-ups (chunks
of a large pact, parallel jobs) only change the plan or who executes it.
Local pacts get one run per consumer, whose state URL then carries
``?consumer=<name>`` so that consumer-scoped handlers apply.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from ..errors import PactSourceError, VerificationSetupError
from .broker import BrokerOptions
from .options import VerifyOptions
from .pacts import (
    PactFile,
    PactInteraction,
    group_by_consumer,
    infer_provider,
    is_url,
    load_pacts,
    select_provider,
)

#: Numbers for the names of pact copies: unique in the work directory.
_COPY_NUMBERS: Final = itertools.count()


@dataclass(frozen=True)
class VerifierRun:
    """One :class:`pact.Verifier` execution: its sources, and the consumer
    whose name goes on the state URL (``None`` when not known up front).

    .. versionadded:: 0.1
    """

    label: str
    consumer: str | None = None
    files: tuple[Path, ...] = ()
    urls: tuple[str, ...] = ()
    broker: BrokerOptions | None = None
    #: Consumer filter for remote sources.
    consumers: tuple[str, ...] = ()
    #: Interactions this run will verify, when the sources are local.
    expected: int | None = None
    #: The provider-state names of each interaction the run will verify, in
    #: the verifier's order (file order), when known: one local pact file.
    schedule: tuple[tuple[str, ...], ...] | None = None
    #: The descriptions of the interactions it will verify, when local: an
    #: interaction the verifier leaves out is named in the report.
    planned: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerificationPlan:
    """Every verifier run of one verification, and the options they share.

    .. versionadded:: 0.1
    """

    provider: str
    runs: tuple[VerifierRun, ...]
    options: VerifyOptions
    pacts: tuple[PactFile, ...] = ()
    notes: tuple[str, ...] = ()
    #: Whether the provider name was taken from the pacts, not given.
    provider_named_by_pacts: bool = False

    @property
    def expected(self) -> int | None:
        """Interactions all runs will verify, or ``None`` with remote sources."""
        counts = [run.expected for run in self.runs]
        return None if None in counts else sum(c for c in counts if c is not None)

    @property
    def needs_tls(self) -> bool:
        """Whether a run may connect over TLS: any URL source, or a broker.

        A plain-HTTP pact URL counts too, as it may redirect to HTTPS; so
        does a broker over plain HTTP, as its links may point at HTTPS
        servers. Only runs of local files keep the minimal trust store.
        """
        return any(run.broker is not None or run.urls for run in self.runs)

    def selects(self, interaction: PactInteraction) -> bool:
        """Whether the description and state filters keep ``interaction``."""
        if not interaction.verifiable:
            return False
        description, state = self.options.description, self.options.state
        if description and not re.search(description, interaction.description):
            return False
        if state is None:
            return True
        if not state:  # the verifier's "no state" filter
            return not interaction.states
        return any(re.search(state, s.name) for s in interaction.states)


def build_plan(
    options: VerifyOptions, *, provider: str | None, workdir: Path
) -> VerificationPlan:
    """Read and check the sources and decide the verifier runs; no server yet.

    Local pacts of more interactions than ``options.chunk_size`` become
    several runs; remote sources (URLs, a broker) are never chunked: a broker
    takes one verification result per pact version.

    :param provider: the provider name, when known (else the local pacts').
    :param workdir: where filtered copies of pacts go (a temporary directory).
    :raises VerificationSetupError: when no provider name can be found.
    :raises PactSourceError: for a bad local source or broker option.

    .. versionadded:: 0.1
    """
    sources, broker = options.sources, options.broker
    pacts = load_pacts(*(source for source in sources if not is_url(source)))
    urls = tuple(str(source) for source in sources if is_url(source))
    named_by_pacts = provider is None
    provider = provider or _provider_of(pacts)
    notes: list[str] = []
    pacts = select_provider(pacts, provider, remote=bool(urls or broker), notes=notes)
    plan = VerificationPlan(
        provider, (), options, tuple(pacts), provider_named_by_pacts=named_by_pacts
    )
    runs = _local_runs(plan, bool(urls or broker), workdir, notes)
    runs += _remote_runs(urls, broker.resolved() if broker else None, options.consumers)
    if options.publish is not None and broker is None:
        notes.append("Results are published only for pacts fetched from a broker.")
    return replace(plan, runs=tuple(runs), notes=tuple(notes))


def _provider_of(pacts: Sequence[PactFile]) -> str:
    """The provider the local pacts agree on, when none was given."""
    provider = infer_provider(pacts)
    if provider is None:
        names = ", ".join(map(repr, sorted({pact.provider for pact in pacts})))
        found = f"the local pacts name {names}" if names else "no local pact to read"
        msg = (
            f"No provider name: {found}. Pass --provider NAME (provider=... in"
            " Python) or set PACT_STATES_PROVIDER in the app's config."
        )
        raise VerificationSetupError(msg)
    return provider


def _local_runs(
    plan: VerificationPlan, has_remote: bool, workdir: Path, notes: list[str]
) -> list[VerifierRun]:
    consumers, chunk_size = plan.options.consumers, plan.options.chunk_size
    groups = group_by_consumer(plan.pacts)
    unknown = [name for name in consumers if name not in groups]
    if unknown and not has_remote:
        msg = (
            f"No pact for consumer {unknown[0]!r} among the sources (they have"
            f" {', '.join(map(repr, groups)) or 'none'}); check --consumer."
        )
        raise PactSourceError(msg)
    runs = []
    for consumer, pacts in groups.items():
        if consumers and consumer not in consumers:
            continue
        _refuse_plugins(pacts)
        if chunk_size and any(
            len(p.verifiable_interactions) > chunk_size for p in pacts
        ):
            for pact in pacts:
                runs += _chunk_runs(plan, pact, chunk_size, workdir, notes)
            continue
        files = tuple(_verifiable_copy(pact, workdir, notes) for pact in pacts)
        run = _consumer_run(plan, consumer, pacts, files)
        if run.expected:
            runs.append(run)
    return runs


def _consumer_run(
    plan: VerificationPlan,
    consumer: str,
    pacts: Sequence[PactFile],
    files: tuple[Path, ...],
) -> VerifierRun:
    """One run for all of a consumer's pact files."""
    selected = [i for pact in pacts for i in pact.interactions if plan.selects(i)]
    label = f"{consumer} ({len(files)} pact file{'s' * (len(files) > 1)})"
    return VerifierRun(
        label,
        consumer,
        files,
        expected=len(selected),
        # Across several files the verifier's order is not known.
        schedule=_schedule(plan, selected) if len(pacts) == 1 else None,
        planned=tuple(i.description for i in selected),
    )


def _refuse_plugins(pacts: Iterable[PactFile]) -> None:
    """Refuse a pact that needs a Pact plugin: the verifier would try to fetch
    the plugin over the network, fail, and report success with nothing
    verified."""
    for pact in pacts:
        if pact.plugins:
            msg = (
                f"The pact '{pact.path}' needs the Pact plugin(s)"
                f" {', '.join(map(repr, pact.plugins))} (metadata.plugins), which"
                " flask pact-verify does not support: verify it with a verifier"
                " that has the plugin, and leave it out here (--consumer)."
            )
            raise PactSourceError(msg)


def _schedule(
    plan: VerificationPlan, interactions: Iterable[PactInteraction]
) -> tuple[tuple[str, ...], ...]:
    """The state names of each interaction the verifier will run, in order."""
    return tuple(
        tuple(state.name for state in interaction.states) or ("",)
        for interaction in interactions
        if plan.selects(interaction)
    )


def _chunk_runs(
    plan: VerificationPlan,
    pact: PactFile,
    chunk_size: int,
    workdir: Path,
    notes: list[str],
) -> list[VerifierRun]:
    """Runs of at most ``chunk_size`` consecutive interactions of ``pact``.

    The verifier clones the whole pact for every interaction, so one run
    takes time quadratic in its size; chunks make it linear. It verifies a
    pact's interactions in file order, so consecutive chunks, one after
    another, verify them in the same order as one run.
    """
    _note_skipped(pact, notes)
    raw = pact.document.get("interactions", pact.document.get("messages", []))
    entries = [
        (entry, interaction)
        for entry, interaction in zip(raw, pact.interactions, strict=True)
        if interaction.verifiable
    ]
    runs = []
    for start in range(0, len(entries), chunk_size):
        chunk = entries[start : start + chunk_size]
        expected = sum(plan.selects(interaction) for _, interaction in chunk)
        if not expected:
            continue
        copy = _write_copy(pact, [entry for entry, _ in chunk], workdir)
        end = start + len(chunk)
        label = f"{pact.consumer} ({pact.path.name}, interactions {start + 1}-{end})"
        selected = [i for _, i in chunk if plan.selects(i)]
        runs.append(
            VerifierRun(
                label,
                pact.consumer,
                (copy,),
                expected=expected,
                schedule=_schedule(plan, selected),
                planned=tuple(i.description for i in selected),
            )
        )
    return runs


def _note_skipped(pact: PactFile, notes: list[str]) -> None:
    skipped = pact.skipped_interactions
    if skipped:
        kinds = ", ".join(sorted({i.type for i in skipped}))
        notes.append(
            f"Skipped {len(skipped)} interaction(s) of {pact.path.name} ({kinds}):"
            " flask pact-verify verifies HTTP and message interactions only."
        )


def _verifiable_copy(pact: PactFile, workdir: Path, notes: list[str]) -> Path:
    """``pact``'s path, or a copy without the interactions it cannot verify."""
    if not pact.skipped_interactions:
        return pact.path
    _note_skipped(pact, notes)
    raw = pact.document.get("interactions", pact.document.get("messages", []))
    entries = [
        entry
        for entry, interaction in zip(raw, pact.interactions, strict=True)
        if interaction.verifiable
    ]
    return _write_copy(pact, entries, workdir)


def _write_copy(pact: PactFile, entries: list[Any], workdir: Path) -> Path:
    """A copy of ``pact`` in ``workdir`` with these interactions only (a V3
    message pact keeps them under ``messages``)."""
    document = dict(pact.document)
    key = "interactions" if "interactions" in document else "messages"
    document[key] = entries
    # Numbered, not by listing the directory: a listing per copy made plan
    # building quadratic in the number of chunks (20 s at 80,000 interactions).
    copy = workdir / f"{next(_COPY_NUMBERS)}-{pact.path.name}"
    copy.write_text(json.dumps(document), encoding="utf-8")
    return copy


def _remote_runs(
    urls: tuple[str, ...], broker: BrokerOptions | None, consumers: Sequence[str]
) -> list[VerifierRun]:
    if not urls and broker is None:
        return []
    # Errors quote the failing URL themselves: the label stays short.
    parts = [urls[0] if len(urls) == 1 else f"{len(urls)} pact URLs"] if urls else []
    where = " and ".join([*parts, *([f"broker {broker.url}"] if broker else [])])
    if not consumers:
        return [VerifierRun(where, urls=urls, broker=broker)]
    # One run per consumer, so that its name can scope the state URL.
    return [
        VerifierRun(f"{name} from {where}", name, (), urls, broker, (name,))
        for name in consumers
    ]
