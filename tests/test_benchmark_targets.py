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


def test_pytest_items_report_flags_its_targets_at_1000_only() -> None:
    from benchmarks import pytest_items

    times = {
        "flask pact-verify": [5.0],
        "flask pact-verify --jobs 2": [3.0],
        "pytest -n 0": [6.0],  # 1.2x the CLI: missed
        "pytest -n 2": [4.0],  # 1.5x faster than -n 0: met
    }

    small = pytest_items.report(200, times)
    assert targets.MISSED == []
    assert small[-1] == "(the targets are for 1,000 interactions)"
    lines = pytest_items.report(1000, times)
    assert lines[-2].endswith("1.20x (target <= 1.15x): MISSED")
    assert lines[-1].endswith("1.50x (target >= 1.4x): met")
    assert len(targets.MISSED) == 1
