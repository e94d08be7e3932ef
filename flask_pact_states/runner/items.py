"""Interactions as test items: naming, chunking and verifying them.

The pytest plugin turns each verifiable interaction of the local pacts into
one item; this module holds the part that needs no pytest. An item is a
:class:`ItemSpec`. The items a session selects are verified in chunks of
consecutive interactions of one pact file (:func:`chunk_groups`), each chunk
one verifier run over a copy of the pact holding just those interactions
(:class:`~.chunks.ChunkVerifier`): a ``-k`` or ``--lf`` run verifies only
what it selected, and never runs the verifier once per item.

Nothing here imports Flask, pact-python or the server: pytest-xdist's
controller and a session without interaction items need only this.

The chunks are computed from node ids alone, so that pytest-xdist's
controller, which collects nothing, groups items exactly as its workers do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .pacts import PactFile, PactState
from .report import title

if TYPE_CHECKING:
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
