"""State coverage: which handler answers each state the pacts use.

Resolved the way the endpoint resolves them, without a server or a verifier:
``flask pact-states check`` and the report's Coverage section share it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..provider.registry import Handler, StateRegistry
from ..provider.stubs import handler_stub, producer_stub
from .pacts import PactFile


@dataclass(frozen=True)
class StateUse:
    """One state as one interaction of one consumer uses it.

    .. versionadded:: 0.1
    """

    state: str
    params: Mapping[str, Any]
    consumer: str | None
    description: str


@dataclass(frozen=True)
class MissingState:
    """A state no handler answers, with every interaction that needs it.

    .. versionadded:: 0.1
    """

    state: str
    consumer: str | None
    params: Mapping[str, Any]
    descriptions: tuple[str, ...]
    #: ``"message"`` when ``state`` is a message with no producer.
    kind_of_name: str = "state"
    #: Registered names that look like ``state``, best first.
    close_matches: tuple[str, ...] = ()

    @property
    def stub(self) -> str:
        """A handler (or producer) to paste into the states module.

        Unscoped: states are usually shared by consumers, and an unscoped
        handler answers every one of them.
        """
        stub = producer_stub if self.kind_of_name == "message" else handler_stub
        return stub(self.state, self.params, None)


@dataclass(frozen=True)
class AnsweredState:
    """A state and the handler that answers it.

    .. versionadded:: 0.1
    """

    use: StateUse
    handler: Handler
    registered_name: str


@dataclass(frozen=True)
class Coverage:
    """Which handler answers each used state, what is missing, what is unused.

    .. versionadded:: 0.1
    """

    answered: tuple[AnsweredState, ...]
    missing: tuple[MissingState, ...]
    unused_handlers: tuple[Handler, ...]


def states_used(pacts: Iterable[PactFile]) -> list[StateUse]:
    """Every state the verifiable interactions of ``pacts`` ask for, in order.

    .. versionadded:: 0.1
    """
    return [
        StateUse(state.name, state.params, pact.consumer, interaction.description)
        for pact in pacts
        for interaction in pact.verifiable_interactions
        for state in interaction.states
    ]


def messages_used(pacts: Iterable[PactFile]) -> list[StateUse]:
    """Every message the message interactions of ``pacts`` ask a producer
    for, as a :class:`StateUse` whose ``state`` is the description and whose
    params are its states' params, merged.

    .. versionadded:: 0.1
    """
    return [
        StateUse(
            interaction.description,
            {k: v for state in interaction.states for k, v in state.params.items()},
            pact.consumer,
            interaction.description,
        )
        for pact in pacts
        for interaction in pact.interactions
        if interaction.is_message
    ]


def check_coverage(uses: Iterable[StateUse], registry: StateRegistry) -> Coverage:
    """Resolve each used state as the endpoint would, without running anything.

    .. versionadded:: 0.1
    """
    answered: list[AnsweredState] = []
    missing: dict[tuple[str, str | None], list[StateUse]] = {}
    used: set[int] = set()
    for use in uses:
        if not use.state:
            continue
        match = registry.resolve(use.state, use.consumer)
        if match is None:
            missing.setdefault((use.state, use.consumer), []).append(use)
            continue
        used.add(id(match.handler))
        answered.append(AnsweredState(use, match.handler, match.registered_name))
    return Coverage(
        answered=tuple(answered),
        missing=tuple(_missing(group, registry) for group in missing.values()),
        unused_handlers=tuple(h for h in registry.handlers if id(h) not in used),
    )


def _missing(uses: list[StateUse], registry: StateRegistry) -> MissingState:
    descriptions = tuple(dict.fromkeys(use.description for use in uses))
    first = uses[0]
    return MissingState(
        first.state,
        first.consumer,
        first.params,
        descriptions,
        registry.kind_of_name,
        tuple(registry.close_matches(first.state, first.consumer)),
    )
