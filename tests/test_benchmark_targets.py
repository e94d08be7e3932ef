"""The benchmarks flag a missed target in their output, and remember it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks import targets


@pytest.fixture(autouse=True)
def _no_misses_before_or_after() -> Iterator[None]:
    targets.MISSED.clear()
    yield
    targets.MISSED.clear()


def test_targets_met_are_said_and_not_recorded() -> None:
    assert targets.at_most("ratio", 1.2, 1.3).endswith(": met")
    assert targets.at_least("speed-up", 1.5, 1.4).endswith(": met")
    assert targets.MISSED == []


def test_targets_missed_are_flagged_and_recorded() -> None:
    line = targets.at_most("ratio", 1.4, 1.3)

    assert line == "ratio: 1.40x (target <= 1.3x): MISSED"
    assert targets.at_least("speed-up", 1.2, 1.4).endswith("MISSED")
    assert len(targets.MISSED) == 2
