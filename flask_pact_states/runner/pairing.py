"""Pairing the verifier's interaction results with the journal's records.

The verifier reports a failed state change only as "One or more of the setup
state change handlers has failed"; the endpoint's journal knows why. Each
executed interaction makes at least one setup call (``""`` when it has no
state), and the journal numbers the calls of one interaction alike, so the
journal's groups, in order, pair with the verifier's ``interactionResults``,
in order. A pair is checked by its first state; when that does not fit, the
next group with the interaction's states is taken instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..provider.journal import StateChangeRecord


def group_records(
    records: Iterable[StateChangeRecord],
) -> list[list[StateChangeRecord]]:
    """The run's state changes, one group per interaction, in order.

    A setup with a new interaction number starts a group; so does a rejected
    setup (number 0: refused before the lifecycle saw it).
    """
    groups: list[list[StateChangeRecord]] = []
    current: int | None = None
    for record in records:
        number = record.interaction
        if not groups or (
            record.action == "setup" and (number == 0 or number != current)
        ):
            groups.append([record])
            current = number
        else:
            groups[-1].append(record)
    return groups


def pair_records(
    entries: Sequence[Mapping[str, Any]], groups: Sequence[list[StateChangeRecord]]
) -> list[tuple[Mapping[str, Any], list[StateChangeRecord] | None]]:
    """Pair each verifier interaction result with its journal group, or None.

    A group that starts with a call refused before its body was read (401,
    403, 413...: its state is not known) is the next interaction's, with the
    refused calls after it, one per further state of that interaction.
    """
    pairs: list[tuple[Mapping[str, Any], list[StateChangeRecord] | None]] = []
    position = 0
    for entry in entries:
        states = [str(s) for s in entry.get("providerStates") or []] or [""]
        found = _find_group(groups, position, states)
        if found is None:
            pairs.append((entry, None))
            continue
        group, position = list(groups[found]), found + 1
        if _refused_unread(group):
            # The verifier still sends the other setups: refused alike.
            others = len(states) - 1
            while (
                others and position < len(groups) and _refused_unread(groups[position])
            ):
                group += groups[position]
                position, others = position + 1, others - 1
        pairs.append((entry, group))
    return pairs


def _find_group(
    groups: Sequence[list[StateChangeRecord]], position: int, states: list[str]
) -> int | None:
    for index in range(position, len(groups)):
        setups = [r.state for r in groups[index] if r.action == "setup"]
        first_fits = index == position and (
            setups[:1] == states[:1] or _refused_unread(groups[index])
        )
        if first_fits or (setups and setups == states[: len(setups)]):
            return index
    return None


def _refused_unread(group: Sequence[StateChangeRecord]) -> bool:
    """Whether the group is a call refused before its state was read."""
    first = group[0]
    return first.outcome == "rejected" and not first.state and not first.interaction
