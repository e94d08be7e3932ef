"""Interactions as test items: naming, chunking and verifying them.

The pytest plugin turns each verifiable interaction of the local pacts into
one item; this module holds the part that needs no pytest. An item is a
:class:`ItemSpec`. The items a session selects are verified in chunks of
consecutive interactions of one pact file (:func:`chunk_groups`), each chunk
one verifier run over a copy of the pact holding just those interactions
(:class:`ChunkVerifier`): a ``-k`` or ``--lf`` run verifies only what it
selected, and never runs the verifier once per item.

The chunks are computed from node ids alone, so that pytest-xdist's
controller, which collects nothing, groups items exactly as its workers do.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PactStatesError
from ..provider.journal import StateChangeRecord
from . import process
from .assembly import build_result
from .execution import Target, app_states, end_run, execute_run, served_app
from .options import VerifyOptions
from .pacts import PactFile, PactState, load_pact
from .plan import VerificationPlan, VerifierRun, build_plan
from .report import title
from .results import RunOutcome
from .server import run_in_worker
from .serving import serve_target
from .streams import StdoutSilencer

if TYPE_CHECKING:
    from flask import Flask

    from .results import InteractionResult, VerificationResult

#: Separates the parts of a pytest node id.
_SEP = "::"


@dataclass(frozen=True)
class ItemSpec:
    """One verifiable interaction of one local pact file, as a test item.

    .. versionadded:: 0.1
    """

    path: Path
    consumer: str
    description: str
    #: Index of the interaction in the pact's ``interactions`` list.
    index: int
    states: tuple[PactState, ...] = ()
    pending: bool = False
    #: The V4 interaction key, when the pact has one.
    key: str | None = None
    #: Whether another interaction of the pact has the same description.
    repeated: bool = False
    #: The pact's parsed document (shared by its items), for chunk copies.
    document: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The item's name: the description, with the V4 key (or the
        position) when the description repeats; ``::`` never appears."""
        name = self.description.replace(_SEP, ": :")
        if self.repeated:
            name += f"[{self.key or f'#{self.index + 1}'}]"
        return name

    @property
    def keywords(self) -> list[str]:
        """Words ``-k`` matches: the consumer, each state and its params."""
        words = [self.consumer]
        for state in self.states:
            words.append(state.name)
            words += [f"{key}={value}" for key, value in state.params.items()]
        return words


def item_specs(pact: PactFile) -> list[ItemSpec]:
    """The items of ``pact``: its verifiable interactions, in file order."""
    raw = pact.document.get("interactions", pact.document.get("messages", []))
    counts: dict[str, int] = {}
    for interaction in pact.interactions:
        counts[interaction.description] = counts.get(interaction.description, 0) + 1
    specs = []
    for index, interaction in enumerate(pact.interactions):
        if not interaction.verifiable:
            continue
        key = raw[index].get("key") if index < len(raw) else None
        specs.append(
            ItemSpec(
                path=pact.path,
                consumer=pact.consumer,
                description=interaction.description,
                index=index,
                states=interaction.states,
                pending=interaction.pending,
                key=key if isinstance(key, str) and key else None,
                repeated=counts[interaction.description] > 1,
                document=pact.document,
            )
        )
    return specs


def is_interaction_id(nodeid: str) -> bool:
    """Whether ``nodeid`` names an interaction: ``file.json::consumer::name``."""
    parts = nodeid.split(_SEP)
    return len(parts) >= 3 and parts[0].endswith(".json")


def chunk_groups(nodeids: Iterable[str], size: int) -> dict[str, str]:
    """The chunk of each interaction among ``nodeids``, by node id.

    A chunk is at most ``size`` consecutive interactions of one pact file
    and consumer (``0``: no limit); other node ids are left out.
    """
    groups: dict[str, str] = {}
    previous, count, number = "", 0, 0
    for nodeid in nodeids:
        if not is_interaction_id(nodeid):
            continue
        prefix = nodeid.rsplit(_SEP, 1)[0]
        if prefix != previous or (size and count >= size):
            number = number + 1 if prefix == previous else 0
            previous, count = prefix, 0
        count += 1
        groups[nodeid] = f"{prefix}#{number}"
    return groups


def shard_of(group: str, groups: Sequence[str], shards: int) -> int:
    """The shard (0-based) that runs chunk ``group``: chunks dealt in turn."""
    return list(dict.fromkeys(groups)).index(group) % shards


@dataclass(frozen=True)
class ItemOutcome:
    """What one item ends as: passed, failed (with text) or pending."""

    passed: bool
    text: str = ""
    pending: bool = False


class ChunkVerifier:
    """Verifies chunks of items against one app, built and served on first
    use and kept up until :meth:`close`.

    :param options: the session's options (filters and sources aside).
    :param load_app: builds the app; called once.
    """

    def __init__(self, options: VerifyOptions, load_app: Callable[[], Flask]) -> None:
        self._options = options
        self._load_app = load_app
        self._served: _ServedApp | None = None
        self._workdir = tempfile.TemporaryDirectory(prefix="pact-items-")
        self._copies = 0

    def verify(self, chunk: Sequence[ItemSpec]) -> list[ItemOutcome]:
        """Verify ``chunk`` (one pact file's items) in one verifier run."""
        options = replace(
            self._options,
            sources=(self._write_copy(chunk),),
            consumers=(),
            description=None,
            state=None,
            broker=None,
            publish=None,
            chunk_size=0,
            jobs=1,
            progress=None,
        )
        try:
            if self._served is None:
                self._served = _ServedApp(self._load_app(), self._options)
            result = self._served.verify(options, Path(self._workdir.name))
        except PactStatesError as error:
            return [ItemOutcome(False, f"{type(error).__name__}: {error}")] * len(chunk)
        return match_results(chunk, result)

    def pause(self) -> None:
        """Stop the server until the next chunk (the app stays built): no
        server thread runs while the session's other tests do."""
        if self._served is not None:
            self._served.pause()

    def close(self) -> None:
        """Stop the server, undo every state, remove the pact copies."""
        try:
            if self._served is not None:
                self._served.close()
        finally:
            self._workdir.cleanup()

    def _write_copy(self, chunk: Sequence[ItemSpec]) -> Path:
        """A copy of the chunk's pact with the chunk's interactions only."""
        first = chunk[0]
        source = first.document or load_pact(first.path).document
        key = "interactions" if "interactions" in source else "messages"
        raw: list[Any] = list(source.get(key, []))
        document = dict(source)
        document[key] = [raw[spec.index] for spec in chunk]
        self._copies += 1
        copy = Path(self._workdir.name) / f"{self._copies}-{first.path.name}"
        copy.write_text(json.dumps(document), encoding="utf-8")
        return copy


class _ServedApp:
    """An app served on 127.0.0.1 for many verifications, one at a time.

    What :func:`~.api.verify` does per call, with the server and the journal
    listener kept up between calls; the process-wide changes of
    :mod:`.process` are made for each verification only. :meth:`pause`
    stops serving while the session runs other tests (the app stays built).
    """

    def __init__(self, app: Flask, options: VerifyOptions) -> None:
        self._app = app
        self._states = app_states(app)
        self._direct = bool(options.for_app(app.config).direct_state_calls)
        self._records: list[StateChangeRecord] = []
        self._serving: tuple[ExitStack, Target, StdoutSilencer] | None = None

    def verify(self, options: VerifyOptions, workdir: Path) -> VerificationResult:
        options = options.for_app(self._app.config)
        plan = build_plan(options, provider=options.provider, workdir=workdir)
        trust = bool(options.minimal_trust_store) and not plan.needs_tls
        outcomes = []
        target, silencer = self._serve()
        with process.verification_environment(trust_store_minimal=trust):
            try:
                for run in plan.runs:
                    self._states.expect(run.schedule)
                    execute = partial(self._execute, run, plan, target, silencer)
                    outcomes.append(run_in_worker(execute))
            finally:
                self._states.reset()
        return build_result(
            plan, outcomes, self._states.registry, self._states.producers
        )

    def _serve(self) -> tuple[Target, StdoutSilencer]:
        if self._serving is None:
            stack = ExitStack()
            wsgi_app = served_app(self._app, direct_state_calls=self._direct)
            settings = self._states.settings
            target = stack.enter_context(
                serve_target(wsgi_app, settings, door=self._direct)
            )
            stack.enter_context(self._states.journal.listen(self._records.append))
            silencer = StdoutSilencer()
            stack.callback(silencer.close)
            self._serving = (stack, target, silencer)
        return self._serving[1], self._serving[2]

    def _execute(
        self,
        run: VerifierRun,
        plan: VerificationPlan,
        target: Target,
        silencer: StdoutSilencer,
    ) -> RunOutcome:
        def fresh() -> list[StateChangeRecord]:
            self._records.clear()
            return self._records

        outcome = execute_run(run, plan, target, silencer, fresh)
        outcome = end_run(self._states, outcome)
        return replace(outcome, records=list(self._records))

    def pause(self) -> None:
        """Undo every state and stop serving, until the next verification."""
        serving, self._serving = self._serving, None
        if serving is not None:
            try:
                self._states.reset()
            finally:
                serving[0].close()

    def close(self) -> None:
        try:
            self.pause()
        finally:
            self._states.close()


def match_results(
    chunk: Sequence[ItemSpec], result: VerificationResult
) -> list[ItemOutcome]:
    """Each item's outcome: its interaction's result, found in file order."""
    unused = list(result.interactions)
    outcomes = []
    for spec in chunk:
        found = next((i for i in unused if i.description == spec.description), None)
        if found is None:
            errors = "\n".join(result.errors) or "no result for it."
            text = f"The verifier did not report this interaction: {errors}"
            outcomes.append(ItemOutcome(False, text))
            continue
        unused.remove(found)
        outcomes.append(_outcome(spec, found))
    return outcomes


def _outcome(spec: ItemSpec, interaction: InteractionResult) -> ItemOutcome:
    if interaction.passed:
        return ItemOutcome(True)
    text = f"{title(interaction)}\n{interaction.reason}"
    return ItemOutcome(False, text, pending=interaction.pending or spec.pending)
