"""The verification benchmark's numbers: samples, medians, tables, verdicts.

Split out of :mod:`.verification`, which re-exports these names and puts
the report together.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Final

from . import targets

#: Targets from issue 6.
MAX_VS_HAND_WRITTEN: Final = 1.05
MAX_VS_PACT_PYTHON: Final = 0.85
MAX_RSS_OVER_FLOOR_MB: Final = 20.0
#: How much faster than the floor's ours' time per interaction may grow
#: with N before it counts as a superlinear cost of ours.
LINEAR_SLACK: Final = 1.10
_TRUST_STORE_KEYS: Final = ("SSL_CERT_FILE", "SSL_CERT_DIR")


@dataclass(frozen=True)
class Sample:
    """One measurement: a whole child process."""

    contender: str
    size: int
    wall: float
    verify: float
    maxrss_mb: float


@dataclass(frozen=True)
class Summary:
    """Medians of one contender at one size."""

    wall: float
    verify: float
    maxrss_mb: float
    count: int


#: Medians by (contender, size).
Summaries = dict[tuple[str, int], Summary]


def summarise(samples: Sequence[Sample]) -> Summaries:
    """Median wall time, in-process time and peak RSS per (contender, size)."""
    groups: dict[tuple[str, int], list[Sample]] = {}
    for sample in samples:
        groups.setdefault((sample.contender, sample.size), []).append(sample)
    return {
        key: Summary(
            statistics.median(s.wall for s in group),
            statistics.median(s.verify for s in group),
            max(s.maxrss_mb for s in group),
            len(group),
        )
        for key, group in groups.items()
    }


# -- the report --------------------------------------------------------------


def machine() -> list[str]:
    """A description of where and when the numbers were taken."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    # The verifier loads the trust store per interaction: where it points
    # changes every contender's time (see DESIGN.md).
    ssl = [f"{k}={os.environ[k]}" for k in _TRUST_STORE_KEYS if k in os.environ]
    loads = ", ".join(f"{load:.2f}" for load in os.getloadavg())
    return [
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {len(os.sched_getaffinity(0))} CPUs (nproc), {cpu},"
        f" {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, pact-python"
        f" {metadata.version('pact-python')}, Flask {metadata.version('flask')}",
        f"- Trust store: {', '.join(ssl) if ssl else 'system default'}",
        # Other work on a shared machine slows contenders unevenly: say so.
        f"- Load average at the end (1, 5, 15 min): {loads}",
    ]


def table(summary: Summaries, contenders: Sequence[str], size: int) -> list[str]:
    """A Markdown table of one size: medians, per interaction, ratio to floor."""
    floor = summary.get(("floor", size))
    rounds = summary[contenders[0], size].count
    lines = [
        f"N = {size:,} interactions, median of {rounds} rounds:",
        "",
        "| contender | whole process | in-process | per interaction"
        " | vs floor (whole) | vs floor (in-process) | peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in contenders:
        s = summary[name, size]
        whole = f"{s.wall / floor.wall:.2f}x" if floor else "-"
        inner = f"{s.verify / floor.verify:.2f}x" if floor else "-"
        lines.append(
            f"| {name} | {s.wall:.2f} s | {s.verify:.2f} s"
            f" | {s.verify / size * 1e3:.2f} ms | {whole} | {inner}"
            f" | {s.maxrss_mb:.1f} MB |"
        )
    return lines


def peer_verdicts(summary: Summaries, size: int) -> list[str]:
    """Each of ours against each peer at ``size``, with the targets."""
    lines = []
    for ours in ("ours", "ours-plain"):
        for peer, target in (
            ("hand-written", MAX_VS_HAND_WRITTEN),
            ("pact-python", MAX_VS_PACT_PYTHON),
        ):
            a, b = summary.get((ours, size)), summary.get((peer, size))
            if a is None or b is None:
                continue
            met = _flag(a.wall <= target * b.wall)
            lines.append(
                f"- N={size:,}: {ours} / {peer}: {a.wall / b.wall:.2f}x whole"
                f" process, {a.verify / b.verify:.2f}x in-process"
                f" (target <= {target}x: {met})"
            )
            _record(met, lines[-1])
    return lines


def jobs_report(summary: Summaries, size: int) -> list[str]:
    """How much faster two worker processes are than one (issue 8)."""
    one, two = summary.get(("ours", size)), summary.get(("ours-jobs2", size))
    if one is None or two is None:
        return []
    return [
        f"- N={size:,}: ours (1 job) / ours-jobs2: {one.wall / two.wall:.2f}x"
        f" whole process, {one.verify / two.verify:.2f}x in-process"
    ]


def linearity(
    summary: Summaries, contenders: Sequence[str], sizes: Sequence[int]
) -> list[str]:
    """Time per interaction (in-process) at the smallest and largest size."""
    small, large = min(sizes), max(sizes)
    if small == large:
        return []
    lines = [f"Time per interaction (in-process), N={small:,} -> N={large:,}:", ""]
    growth: dict[str, float] = {}
    for name in contenders:
        a = summary[name, small].verify / small
        b = summary[name, large].verify / large
        growth[name] = b / a
        lines.append(f"- {name}: {a * 1e3:.2f} ms -> {b * 1e3:.2f} ms ({b / a:.2f}x)")
    for name in ("ours", "ours-plain"):
        if name in growth and "floor" in growth:
            lines.append(_linear_verdict(name, growth[name], growth["floor"]))
    return lines


def _linear_verdict(name: str, growth: float, floor: float) -> str:
    strict = "yes" if growth <= LINEAR_SLACK else "no"
    own = _flag(growth <= floor * LINEAR_SLACK)
    line = (
        f"- {name} linear in N: strictly {strict} ({growth:.2f}x per interaction);"
        f" no faster growth than the floor's {floor:.2f}x"
        f" (target <= {LINEAR_SLACK}x that: {own})"
    )
    _record(own, line)
    return line


def rss_report(summary: Summaries, size: int) -> list[str]:
    """Peak RSS (and time) of ours against the floor at ``size``."""
    floor, ours = summary.get(("floor", size)), summary.get(("ours", size))
    if floor is None or ours is None:
        return []
    over = ours.maxrss_mb - floor.maxrss_mb
    met = _flag(over <= MAX_RSS_OVER_FLOOR_MB)
    _record(met, f"peak RSS at N={size:,}: {over:+.1f} MB over the floor")
    return [
        f"N = {size:,}, {ours.count} round(s), ours against the floor:",
        "",
        f"- peak RSS: floor {floor.maxrss_mb:.1f} MB, ours {ours.maxrss_mb:.1f} MB:"
        f" {over:+.1f} MB (target <= +{MAX_RSS_OVER_FLOOR_MB:.0f} MB: {met})",
        f"- wall time: floor {floor.wall:.1f} s, ours {ours.wall:.1f} s"
        f" ({ours.wall / floor.wall:.2f}x whole process,"
        f" {ours.verify / floor.verify:.2f}x in-process)",
        f"- per interaction (in-process): floor {floor.verify / size * 1e3:.2f} ms,"
        f" ours {ours.verify / size * 1e3:.2f} ms",
    ]


def _flag(met: bool) -> str:
    return "met" if met else "MISSED"


def _record(flag: str, line: str) -> None:
    if flag == "MISSED":
        targets.MISSED.append(line.lstrip("- "))
